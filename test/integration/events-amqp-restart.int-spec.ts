import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel } from 'amqplib';
import { findFreePort } from '../../src/database/embedded-postgres';
import type { DomainEventInput } from '../../src/events/events.types';
import { OutboxRepository } from '../../src/events/outbox.repository';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { eventually } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/**
 * A RabbitMQ node of this test's own (its port, node name, data and logs in a temp dir), really stopped
 * and started mid-run; the machine's shared broker, which other test files use meanwhile, is not touched.
 */
describe('RabbitMQ sink across a real broker restart (a private node)', () => {
  const node = `paybridge_test_${randomBytes(4).toString('hex')}@localhost`;
  const exchange = 'payments';
  const queue = 'restart_test';
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let amqpUrl: string;
  let dbUrl: string;
  let api: TestApp;
  let relay: OutboxRelay;

  beforeAll(async () => {
    const [port, distPort] = [await findFreePort(), await findFreePort()];
    dir = await mkdtemp(join(tmpdir(), 'paybridge-rabbit-'));
    // rabbitmq-server started by root runs as the rabbitmq user: it must be able to write here.
    await chmod(dir, 0o777);
    // Its own config: the machine's names the shared listener (127.0.0.1:5672), which would collide.
    await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\nloopback_users = none\n`, { mode: 0o644 });
    await writeFile(join(dir, 'enabled_plugins'), '[].\n', { mode: 0o644 });
    env = {
      ...process.env,
      RABBITMQ_NODENAME: node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_PID_FILE: join(dir, 'pid'),
    };
    amqpUrl = `amqp://guest:guest@127.0.0.1:${port}`;
    await startBroker();
    // A durable queue bound before anything is published: it keeps the persistent messages across the restart.
    await withChannel(async (c) => {
      const ch = await c.createChannel();
      await ch.assertExchange(exchange, 'topic', { durable: true });
      await ch.assertQueue(queue, { durable: true });
      await ch.bindQueue(queue, exchange, 'payment.*');
    });
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { JOBS_ENABLED: 'false', AMQP_URL: amqpUrl, AMQP_EXCHANGE: exchange });
    relay = api.app.get(OutboxRelay);
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await run('rabbitmqctl', ['-n', node, 'stop']).catch(() => undefined);
    if (dbUrl) await dropDatabase(dbUrl);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function startBroker(): Promise<void> {
    await run('rabbitmq-server', ['-detached']);
    await eventually(() => withChannel(async () => true), 90_000);
  }
  async function withChannel<T>(fn: (c: ChannelModel) => Promise<T>): Promise<T> {
    const c = await connect(amqpUrl);
    try {
      return await fn(c);
    } finally {
      await c.close().catch(() => undefined);
    }
  }
  function run(command: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => execFile(command, args, { env }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
  }
  const write = (n: number) =>
    api.db.transaction((tx) =>
      api.app.get(OutboxRepository).insert(
        Array.from(
          { length: 10 },
          (_, k): DomainEventInput => ({
            merchantId: 'mer_default',
            type: 'payment.succeeded',
            aggregateType: 'payment',
            aggregateId: `pay_restart_${k}`,
            data: { id: `pay_restart_${k}`, n },
          }),
        ),
        tx,
      ),
    );
  const undelivered = async () =>
    (await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_deliveries WHERE sink = 'amqp' AND status <> 'delivered'`))
      .rows[0].n;

  it('the broker stopped and started mid-run: every event arrives, in order per payment, none dead', async () => {
    for (let n = 0; n < 3; n++) await write(n);
    await relay.drain();
    expect(await undelivered()).toBe(0);

    await run('rabbitmqctl', ['-n', node, 'stop']);
    for (let n = 3; n < 6; n++) await write(n);
    await relay.drain();
    // The broker is down: each payment's next event failed and waits, the later ones behind it.
    expect(await undelivered()).toBe(30);

    await startBroker();
    for (let n = 6; n < 8; n++) await write(n);
    // What failed waits for its retry (about a second): made due now instead of waiting.
    await eventually(async () => {
      await api.db.query(`UPDATE event_deliveries SET next_attempt_at = now() WHERE sink = 'amqp' AND status = 'failed'`);
      await relay.drain();
      return (await undelivered()) === 0;
    }, 30_000);

    const bodies = await withChannel(async (c) => {
      const ch = await c.createChannel();
      const got: Array<{ id: string; data: { id: string; n: number } }> = [];
      for (;;) {
        const message = await ch.get(queue, { noAck: true });
        if (!message) break;
        expect(message.properties.deliveryMode).toBe(2);
        got.push(JSON.parse(message.content.toString()));
      }
      return got;
    });
    // At least once: a publish whose confirm was lost may be there twice; each first arrival in order.
    const seen = new Set<string>();
    const order = new Map<string, number[]>();
    for (const event of bodies) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      order.set(event.data.id, [...(order.get(event.data.id) ?? []), event.data.n]);
    }
    expect(seen.size).toBe(80);
    expect(order.size).toBe(10);
    for (const ns of order.values()) expect(ns).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const dead = await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_deliveries WHERE status = 'dead'`);
    expect(dead.rows[0].n).toBe(0);
  }, 120_000);
});
