import { findFreePort } from '../../src/database/embedded-postgres';
import type { DomainEventInput } from '../../src/events/events.types';
import { OutboxRepository } from '../../src/events/outbox.repository';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { eventually } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { EventReceiver } from '../helpers/event-receiver';
import { cleanEnv, spawnProject, Spawned, waitFor } from '../helpers/process';

const AGGREGATES = 10;
const EVENTS_PER_AGGREGATE = 5;

/** The relay's process dies (SIGKILL) with deliveries claimed and in flight: every event still arrives. */
describe('outbox relay killed mid-batch (real process, SIGKILL)', () => {
  let dbUrl: string;
  let survivor: TestApp;
  let victim: Spawned | undefined;
  const receiver = new EventReceiver();

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    survivor = await startTestApp(dbUrl, { JOBS_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  });
  afterAll(async () => {
    if (victim && victim.child.exitCode === null) victim.child.kill('SIGKILL');
    await receiver.stop();
    await survivor?.close();
    await dropDatabase(dbUrl);
  });

  it('every event is delivered by the surviving instance, in order per aggregate', async () => {
    const acknowledged: Array<{ id: string; aggregate: string; n: number }> = [];
    let victimAlive = true;
    // While the victim lives, the endpoint takes its requests and never answers them.
    receiver.reply = (d) => {
      if (victimAlive) return 'hang';
      acknowledged.push({ id: d.event.id, aggregate: String(d.event.data.id), n: Number(d.event.data.n) });
      return { status: 200 };
    };
    const sk = await survivor.key('secret');
    const registered = await survivor
      .http()
      .post('/webhook-endpoints')
      .set('X-Api-Key', sk)
      .send({ url: await receiver.start() });
    expect(registered.status).toBe(201);

    const port = await findFreePort();
    victim = spawnProject(
      ['dist/main.js'],
      cleanEnv({
        DATABASE_URL: dbUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        MIGRATE_ON_START: 'false',
        JOBS_ENABLED: 'true',
        EVENT_RELAY_INTERVAL_MS: '50',
        WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        WEBHOOK_ENDPOINT_TIMEOUT_MS: '60000',
        WEBHOOK_ENDPOINT_CONCURRENCY: '4',
      }),
    );
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/health`)).ok ? true : undefined), 30_000, 'the victim to start');

    const outbox = survivor.app.get(OutboxRepository);
    for (let n = 0; n < EVENTS_PER_AGGREGATE; n++) {
      const events = Array.from(
        { length: AGGREGATES },
        (_, k): DomainEventInput => ({
          merchantId: 'mer_default',
          type: 'payment.succeeded',
          aggregateType: 'payment',
          aggregateId: `pay_crash_${k}`,
          data: { id: `pay_crash_${k}`, n },
        }),
      );
      await survivor.db.transaction((tx) => outbox.insert(events, tx) as Promise<unknown>);
    }
    // The victim has fanned out and claimed its share, and is waiting on the endpoint.
    await eventually(async () => receiver.received.length >= 4, 20_000);
    victim.child.kill('SIGKILL');
    await victim.exited;
    victimAlive = false;
    receiver.release(499); // its sockets are gone with it; nobody reads these answers

    // Its claims are leased for longer than its timeout (60 s + margin): the lease is ended here instead.
    const leased = await survivor.db.query(
      `UPDATE event_deliveries SET next_attempt_at = now() WHERE status = 'pending' AND next_attempt_at > now() RETURNING id`,
    );
    expect(leased.rowCount).toBeGreaterThanOrEqual(4);
    await survivor.app.get(OutboxRelay).drain();

    expect(new Set(acknowledged.map((a) => a.id)).size).toBe(AGGREGATES * EVENTS_PER_AGGREGATE);
    const firstAcks = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const a of acknowledged) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      firstAcks.set(a.aggregate, [...(firstAcks.get(a.aggregate) ?? []), a.n]);
    }
    for (const ns of firstAcks.values()) expect(ns).toEqual([...Array(EVENTS_PER_AGGREGATE).keys()]);
    const open = await survivor.db.query(`SELECT count(*)::int AS n FROM event_deliveries WHERE status <> 'delivered'`);
    expect(open.rows[0].n).toBe(0);
  });
});
