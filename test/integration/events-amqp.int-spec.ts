import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { findFreePort } from '../../src/database/embedded-postgres';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { OutboxRepository } from '../../src/events/outbox.repository';
import type { DomainEventInput } from '../../src/events/events.types';
import { createProduct, eventually, processBody, processPayment, refundPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const AMQP_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

describe('RabbitMQ sink (the machine’s broker)', () => {
  // An exchange of this run's own: test runs in parallel never see each other's messages.
  const exchange = `paybridge_test_${randomBytes(4).toString('hex')}`;
  let dbUrl: string;
  let api: TestApp;
  let relay: OutboxRelay;
  let consumer: ChannelModel;
  let channel: Channel;
  let queue: string;
  const messages: ConsumeMessage[] = [];

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { JOBS_ENABLED: 'false', AMQP_URL, AMQP_EXCHANGE: exchange });
    relay = api.app.get(OutboxRelay);
    consumer = await connect(AMQP_URL);
    channel = await consumer.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    queue = (await channel.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    await channel.bindQueue(queue, exchange, 'payment.*');
    await channel.consume(queue, (message) => message && messages.push(message), { noAck: true });
  });
  afterAll(async () => {
    await channel?.deleteExchange(exchange).catch(() => undefined);
    await consumer?.close();
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const body = (m: ConsumeMessage) => JSON.parse(m.content.toString()) as { id: string; type: string; data: Record<string, unknown> };

  it('a queue bound to payment.* receives payment events with their type as routing key, persistent, confirmed', async () => {
    const sk = await api.key('secret');
    const admin = await api.key('admin');
    const productId = (await createProduct(api, admin)).id;
    const paid = await processPayment(api, sk, processBody(productId, 'tok_visa'));
    expect(paid.status).toBe(201);
    expect((await refundPayment(api, admin, paid.body.id, { amount: 500 })).status).toBe(201);
    // Not a payment event: published, but not routed to this queue.
    const outbox = api.app.get(OutboxRepository);
    await api.db.transaction(
      (tx) =>
        outbox.insert(
          [{ merchantId: 'mer_default', type: 'gift_card.activated', aggregateType: 'gift_card', aggregateId: 'gc_amqp', data: {} }],
          tx,
        ) as Promise<unknown>,
    );
    await relay.drain();
    await eventually(async () => messages.length >= 2);

    const mine = messages.filter((m) => body(m).data.paymentId === paid.body.id || body(m).data.id === paid.body.id);
    expect(mine.map((m) => m.fields.routingKey)).toEqual(['payment.succeeded', 'payment.refunded']);
    for (const m of mine) {
      expect(m.properties.deliveryMode).toBe(2);
      expect(m.properties.contentType).toBe('application/json');
      expect(m.properties.messageId).toBe(body(m).id);
      expect(m.fields.exchange).toBe(exchange);
    }
    expect(messages.some((m) => m.fields.routingKey === 'gift_card.activated')).toBe(false);
    const rows = await api.db.query(`SELECT event_type, status FROM event_deliveries WHERE sink = 'amqp' ORDER BY event_seq`);
    expect(rows.rows).toEqual([
      { event_type: 'payment.succeeded', status: 'delivered' },
      { event_type: 'payment.refunded', status: 'delivered' },
      { event_type: 'gift_card.activated', status: 'delivered' },
    ]);
  });

  it('the broker closes the connection mid-run (as it does when it stops): the sink reconnects, nothing is lost or reordered', async () => {
    messages.length = 0;
    const outbox = api.app.get(OutboxRepository);
    const write = (n: number) =>
      api.db.transaction(
        (tx) =>
          outbox.insert(
            Array.from(
              { length: 20 },
              (_, k): DomainEventInput => ({
                merchantId: 'mer_default',
                type: 'payment.succeeded',
                aggregateType: 'payment',
                aggregateId: `pay_amqp_${k}`,
                data: { id: `pay_amqp_${k}`, n },
              }),
            ),
            tx,
          ) as Promise<unknown>,
      );
    for (let n = 0; n < 3; n++) await write(n);
    await relay.drain();
    // The broker closes our connection while the next events are being published.
    for (let n = 3; n < 6; n++) await write(n);
    await Promise.all([relay.drain(), closeConnectionAtBroker(`paybridge events (${exchange})`)]);
    for (let n = 6; n < 8; n++) await write(n);
    // What failed waits for its retry (about 1 s): made due now instead of waiting.
    for (let round = 0; round < 10; round++) {
      await api.db.query(`UPDATE event_deliveries SET next_attempt_at = now() WHERE sink = 'amqp' AND status = 'failed'`);
      await relay.drain();
      const open = await api.db.query(`SELECT count(*)::int AS n FROM event_deliveries WHERE sink = 'amqp' AND status <> 'delivered'`);
      if (open.rows[0].n === 0) break;
    }
    await eventually(async () => new Set(messages.map((m) => body(m).id)).size === 160);

    // At least once: a publish whose confirm was lost may arrive twice; never out of order.
    const firstSeen = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const m of messages) {
      const event = body(m);
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      const key = String(event.data.id);
      firstSeen.set(key, [...(firstSeen.get(key) ?? []), Number(event.data.n)]);
    }
    expect(firstSeen.size).toBe(20);
    for (const ns of firstSeen.values()) expect(ns).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const dead = await api.db.query(`SELECT count(*)::int AS n FROM event_deliveries WHERE status = 'dead'`);
    expect(dead.rows[0].n).toBe(0);
  });

  it('/health shows the broker: up, or down as degraded (200: payments go on); /metrics shows the backlog per sink', async () => {
    const up = await api.http().get('/health');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ status: 'ok', details: { database: { status: 'up' }, amqp: { status: 'up' } } });

    const closedPort = await findFreePort();
    const cut = await startTestApp(dbUrl, { JOBS_ENABLED: 'false', AMQP_URL: `amqp://guest:guest@127.0.0.1:${closedPort}` });
    try {
      const degraded = await cut.http().get('/health');
      expect(degraded.status).toBe(200);
      expect(degraded.body).toMatchObject({ status: 'degraded', details: { database: { status: 'up' }, amqp: { status: 'down' } } });
      // Events wait in the outbox for the broker: counted in the backlog, not lost.
      const outbox = cut.app.get(OutboxRepository);
      await cut.db.transaction(
        (tx) =>
          outbox.insert(
            [{ merchantId: 'mer_default', type: 'payment.failed', aggregateType: 'payment', aggregateId: 'pay_backlog', data: {} }],
            tx,
          ) as Promise<unknown>,
      );
      await cut.app.get(OutboxRelay).drain();
      const failed = await cut.db.query(
        `SELECT status, last_error FROM event_deliveries WHERE sink = 'amqp' AND aggregate_key = 'payment:pay_backlog'`,
      );
      expect(failed.rows[0]).toMatchObject({ status: 'failed', last_error: expect.stringMatching(/ECONNREFUSED|connect/) });
      const metrics = await cut.http().get('/metrics');
      expect(metrics.text).toMatch(/event_deliveries_backlog\{sink="amqp"\} [1-9]/);
      expect(metrics.text).toMatch(/event_delivery_attempts_total\{sink="amqp",outcome="failed"\} [1-9]/);
    } finally {
      await cut.close();
    }
  });
});

/** rabbitmqctl close_connection on the connection of that name: the broker's own close, as on shutdown. */
async function closeConnectionAtBroker(name: string): Promise<void> {
  const listing = (await run('rabbitmqctl', ['list_connections', '--quiet', '--no-table-headers', 'pid', 'client_properties'])).split('\n');
  const line = listing.find((l) => l.includes(`{"connection_name","${name}"}`));
  if (!line) throw new Error(`no broker connection named ${name}`);
  await run('rabbitmqctl', ['close_connection', line.split('\t')[0], 'test: broker going away']);
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(command, args, (err, stdout) => (err ? reject(err) : resolve(stdout))));
}
