import { OutboxRepository } from '../../src/events/outbox.repository';
import type { DomainEventInput } from '../../src/events/events.types';
import { OutboxRelay } from '../../src/events/relay/outbox-relay';
import { MetricsService } from '../../src/metrics/metrics.service';
import { EventReceiver } from '../helpers/event-receiver';
import { eventually } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const AGGREGATES = 100;
const EVENTS_PER_AGGREGATE = 20;

describe('The outbox relay on two instances (real PostgreSQL)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  const receivers = [new EventReceiver(), new EventReceiver()];

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    const env = { JOBS_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', EVENT_RELAY_BATCH: '25' };
    [a, b] = await Promise.all([startTestApp(dbUrl, env), startTestApp(dbUrl, env)]);
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const attemptsBy = async (api: TestApp) => {
    const metric = await api.app.get(MetricsService).registry.getSingleMetric('event_delivery_attempts_total')?.get();
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  };

  it(`${AGGREGATES * EVENTS_PER_AGGREGATE} events to two endpoints: each delivered once to each, in order per aggregate, by both instances`, async () => {
    const sk = await a.key('secret');
    for (const receiver of receivers) {
      const url = await receiver.start();
      const res = await a.http().post('/webhook-endpoints').set('X-Api-Key', sk).send({ url });
      expect(res.status).toBe(201);
    }
    // Event n of every aggregate is written in transaction n: the order each aggregate's events must keep.
    const outbox = a.app.get(OutboxRepository);
    for (let n = 0; n < EVENTS_PER_AGGREGATE; n++) {
      const events: DomainEventInput[] = Array.from({ length: AGGREGATES }, (_, k) => ({
        merchantId: 'mer_default',
        type: 'payment.succeeded',
        aggregateType: 'payment',
        aggregateId: `pay_relay_${k}`,
        data: { id: `pay_relay_${k}`, n },
      }));
      await a.db.transaction((tx) => outbox.insert(events, tx) as Promise<unknown>);
    }

    const total = AGGREGATES * EVENTS_PER_AGGREGATE;
    // Both instances relay at once, each draining again until every delivery is done: a drain ends when it
    // finds nothing it may take (the other instance holds the fan-out lock, or an aggregate's earlier event),
    // and a single pass of one could otherwise leave the whole run to the other.
    const done = () => receivers.every((r) => r.received.length >= total);
    const relayUntilDone = async (api: TestApp) => {
      for (let round = 0; round < 10_000 && !done(); round++) await api.app.get(OutboxRelay).drain();
    };
    await Promise.all([relayUntilDone(a), relayUntilDone(b)]);

    for (const receiver of receivers) {
      const ids = receiver.received.map((d) => d.event.id);
      expect(ids).toHaveLength(total);
      expect(new Set(ids).size).toBe(total);
      const byAggregate = new Map<string, number[]>();
      for (const d of receiver.received) {
        const key = String(d.event.data.id);
        byAggregate.set(key, [...(byAggregate.get(key) ?? []), Number(d.event.data.n)]);
      }
      expect(byAggregate.size).toBe(AGGREGATES);
      for (const ns of byAggregate.values()) expect(ns).toEqual([...Array(EVENTS_PER_AGGREGATE).keys()]);
    }
    const [byA, byB] = await Promise.all([attemptsBy(a), attemptsBy(b)]);
    expect(byA + byB).toBe(2 * total);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    const open = await a.db.query(`SELECT count(*)::int AS n FROM event_deliveries WHERE status <> 'delivered'`);
    expect(open.rows[0].n).toBe(0);
    // Outbox rows stay for audit, all fanned out.
    const outboxRows = await a.db.query(`SELECT count(*)::int AS n, count(published_at)::int AS fanned FROM outbox_events`);
    expect(outboxRows.rows[0]).toEqual({ n: total, fanned: total });
  });

  it('a delivery whose claimer went silent (a crash mid-send) is sent again by another instance once its lease ends', async () => {
    const sk = await a.key('secret');
    // Only this test's endpoint: A then holds nothing in flight but the delivery it never hears back about.
    for (const endpoint of (await a.http().get('/webhook-endpoints').set('X-Api-Key', sk)).body.data) {
      expect((await a.http().delete(`/webhook-endpoints/${endpoint.id}`).set('X-Api-Key', sk)).status).toBe(200);
    }
    const receiver = new EventReceiver();
    receivers.push(receiver);
    receiver.reply = (_, i) => (i === 0 ? 'hang' : { status: 200 });
    const url = await receiver.start();
    const res = await a
      .http()
      .post('/webhook-endpoints')
      .set('X-Api-Key', sk)
      .send({ url, events: ['gift_card.activated'] });
    const outbox = a.app.get(OutboxRepository);
    const event: DomainEventInput = {
      merchantId: 'mer_default',
      type: 'gift_card.activated',
      aggregateType: 'gift_card',
      aggregateId: 'gc_lease',
      data: { id: 'gc_lease' },
    };
    await a.db.transaction((tx) => outbox.insert([event], tx) as Promise<unknown>);

    // Instance A claims it and never hears back: as far as anyone can tell, A died mid-send.
    const stuck = a.app.get(OutboxRelay).drain();
    await eventually(async () => receiver.received.length === 1);
    await b.app.get(OutboxRelay).drain();
    expect(receiver.received).toHaveLength(1); // leased to A: not due for B

    await a.db.query(`UPDATE event_deliveries SET next_attempt_at = now() WHERE target = $1`, [res.body.id]); // the lease ends
    await b.app.get(OutboxRelay).drain();
    expect(receiver.received.map((d) => d.event.data.id)).toEqual(['gc_lease', 'gc_lease']);
    const row = await a.db.query(`SELECT status, attempts FROM event_deliveries WHERE target = $1`, [res.body.id]);
    expect(row.rows[0]).toEqual({ status: 'delivered', attempts: 2 });
    receiver.release(200);
    await stuck;
  });
});
