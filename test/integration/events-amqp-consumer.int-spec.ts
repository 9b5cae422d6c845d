import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { createProduct, eventually } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const AMQP_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

describe('RabbitMQ product consumer (merchant.product.published / out_of_stock)', () => {
  // An exchange and a queue of this run's own: parallel runs never see each other's messages.
  const suffix = randomBytes(4).toString('hex');
  const exchange = `merchant_test_${suffix}`;
  const queue = `paybridge_test_products_${suffix}`;
  let dbUrl: string;
  let api: TestApp;
  let publisher: ChannelModel;
  let channel: Channel;
  let admin: string;
  let pk: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      JOBS_ENABLED: 'false',
      AMQP_URL,
      AMQP_CONSUME_EXCHANGE: exchange,
      AMQP_CONSUME_QUEUE: queue,
    });
    admin = await api.key('admin');
    pk = await api.key('publishable');
    publisher = await connect(AMQP_URL);
    channel = await publisher.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    // The consumer declares and binds its queue in the background at startup: wait until it is there.
    await eventually(async () => (await queueDepth(queue)) !== null, 15_000);
  });
  afterAll(async () => {
    // The app first: its consumer would declare the queue again if it saw it deleted.
    await api?.close();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await channel?.deleteExchange(exchange).catch(() => undefined);
    await publisher?.close();
    await dropDatabase(dbUrl);
  });

  const send = (routingKey: string, body: unknown) =>
    channel.publish(exchange, routingKey, Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)), { persistent: true });
  const product = async (id: string) => (await api.http().get(`/admin/products/${id}`).set('X-Api-Key', admin)).body;

  it('out_of_stock deactivates the product and published activates it again (the public catalog follows), acked', async () => {
    const { id } = await createProduct(api, admin);
    send('merchant.product.out_of_stock', { merchantId: 'mer_default', productId: id });
    await eventually(async () => (await product(id)).active === false, 10_000);
    expect((await api.http().get(`/products/${id}`).set('X-Api-Key', pk)).status).toBe(404);

    send('merchant.product.published', { merchantId: 'mer_default', productId: id });
    await eventually(async () => (await product(id)).active === true, 10_000);
    expect((await api.http().get(`/products/${id}`).set('X-Api-Key', pk)).status).toBe(200);
    // Acked: nothing left in the queue, ready or unacknowledged.
    await eventually(async () => (await queueDepth(queue)) === 0, 10_000);
  });

  it('malformed messages, unknown and other merchants’ products are rejected without requeue; the consumer goes on', async () => {
    const { id } = await createProduct(api, admin);
    const archived = await createProduct(api, admin);
    expect((await api.http().delete(`/admin/products/${archived.id}`).set('X-Api-Key', admin)).status).toBe(200);
    send('merchant.product.out_of_stock', Buffer.from('{not json'));
    send('merchant.product.out_of_stock', { productId: id });
    send('merchant.product.out_of_stock', { merchantId: 'mer_default', productId: 'prod_nope' });
    send('merchant.product.out_of_stock', { merchantId: 'mer_other', productId: id });
    send('merchant.product.published', { merchantId: 'mer_default', productId: archived.id });
    send('merchant.product.out_of_stock', { merchantId: 'mer_default', productId: id });

    await eventually(async () => (await product(id)).active === false, 10_000);
    // A requeued message would circle forever and keep the queue at one or more: it drains to zero.
    await eventually(async () => (await queueDepth(queue)) === 0, 10_000);
    // The archived product stays archived and inactive: the admin rule (no change to an archived product) holds.
    expect(await product(archived.id)).toMatchObject({ active: false, archivedAt: expect.any(String) });
  });
});

/** Ready plus unacknowledged messages of the queue, from the broker itself; null while it does not exist. */
async function queueDepth(name: string): Promise<number | null> {
  const out = await run('rabbitmqctl', ['list_queues', '--quiet', '--no-table-headers', 'name', 'messages']);
  const line = out.split('\n').find((l) => l.split('\t')[0] === name);
  return line ? Number(line.split('\t')[1]) : null;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(command, args, (err, stdout) => (err ? reject(err) : resolve(stdout))));
}
