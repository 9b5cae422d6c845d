// `npm run bench -- events:relay`: a backlog of BENCH_EVENTS outbox events delivered to a local endpoint
// by whatever instances run against DATABASE_URL (bench/README.md). Started from bench/run.js.
const { createServer } = require('node:http');
const { randomBytes } = require('node:crypto');
const { Buffer } = require('node:buffer');
const { setTimeout } = require('node:timers');
const { Client } = require('pg');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
// Events per payment (succeeded, then refunded …): the relay keeps each payment's events in order.
const PER_AGGREGATE = Number(process.env.BENCH_EVENTS_PER_AGGREGATE ?? 2);
const TIMEOUT_S = Number(process.env.BENCH_RELAY_TIMEOUT ?? 600);
const INSERT_BATCH = 10_000;

/** A merchant endpoint that answers 204 at once and remembers, per payment, the order events came in. */
function startReceiver(runId) {
  const seen = new Set();
  const order = new Map();
  let duplicates = 0;
  let foreign = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204).end();
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const { aggregate, n, run } = event.data ?? {};
      if (run !== runId) return void foreign++; // another payment's event (payments running meanwhile)
      if (seen.has(event.id)) return void duplicates++;
      seen.add(event.id);
      const list = order.get(aggregate) ?? [];
      list.push(n);
      order.set(aggregate, list);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}/bench`,
        unique: () => seen.size,
        stats: () => {
          let outOfOrder = 0;
          for (const list of order.values()) for (let i = 1; i < list.length; i++) if (list[i] < list[i - 1]) outOfOrder++;
          return { duplicates, foreign, outOfOrder };
        },
        close: () => new Promise((r) => server.close(r)),
      }),
    ),
  );
}

async function eventsRelay({ base, adminKey, databaseUrl, api }) {
  if (!databaseUrl)
    throw new Error('events:relay writes the backlog straight into the outbox: set DATABASE_URL to the instances’ database');
  const runId = randomBytes(4).toString('hex');
  const receiver = await startReceiver(runId);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const endpoint = await api('POST', '/webhook-endpoints', adminKey, {
      url: receiver.url,
      events: ['payment.succeeded', 'payment.refunded'],
      description: `bench ${runId}`,
    });
    const { rows } = await db.query('SELECT merchant_id FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
    const merchantId = rows[0].merchant_id;
    console.log(
      `events:relay: ${EVENTS} events (${PER_AGGREGATE} per payment) for ${merchantId} → ${receiver.url} (endpoint ${endpoint.id}), instances at ${base}`,
    );

    // The backlog, in batches of one statement each, in each payment's order (n ascending within a payment).
    const insertStarted = Date.now();
    for (let from = 0; from < EVENTS; from += INSERT_BATCH) {
      await db.query(
        `INSERT INTO outbox_events (merchant_id, id, type, aggregate_type, aggregate_id, payload)
         SELECT $1, e.id, e.type, 'payment', e.aggregate, jsonb_build_object(
                  'id', e.id, 'type', e.type, 'createdAt', now(), 'merchantId', $1::text,
                  'data', jsonb_build_object('id', e.aggregate, 'aggregate', e.aggregate, 'n', e.n, 'run', $2::text))
           FROM (SELECT 'evt_bench_' || $2 || '_' || i AS id,
                        CASE WHEN i % $5 = 0 THEN 'payment.succeeded' ELSE 'payment.refunded' END AS type,
                        'pay_bench_' || $2 || '_' || (i / $5) AS aggregate,
                        i % $5 AS n
                   FROM generate_series($3::int, $4::int) AS i) e`,
        [merchantId, runId, from, Math.min(from + INSERT_BATCH, EVENTS) - 1, PER_AGGREGATE],
      );
    }
    const committed = Date.now();
    // As run.js does after each warm-up: autovacuum is off on this machine, and without statistics the
    // relay's fan-out and claim keep plans made for empty tables (bench/README.md).
    await db.query('ANALYZE outbox_events, event_deliveries');
    console.log(`backlog written in ${((committed - insertStarted) / 1000).toFixed(1)} s; waiting for delivery`);

    // Seen by the receiver, then recorded as delivered by the relay (it records after the 204).
    const deadline = committed + TIMEOUT_S * 1000;
    let last = 0;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`not all delivered within ${TIMEOUT_S} s: ${receiver.unique()} of ${EVENTS}`);
      await new Promise((r) => setTimeout(r, 500));
      if (receiver.unique() < EVENTS) {
        if (Date.now() - last > 5_000) {
          last = Date.now();
          console.log(`  ${receiver.unique()} of ${EVENTS} received after ${((Date.now() - committed) / 1000).toFixed(0)} s`);
        }
        continue;
      }
      const done = await db.query(`SELECT count(*)::int AS n FROM event_deliveries WHERE target = $1 AND status = 'delivered'`, [
        endpoint.id,
      ]);
      if (done.rows[0].n >= EVENTS) break;
    }
    const figures = await db.query(
      `SELECT extract(epoch FROM max(d.delivered_at) - min(o.created_at))::float AS span_s,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - o.created_at)) AS p50_s,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - o.created_at)) AS p99_s,
              count(DISTINCT d.id)::int AS deliveries,
              sum(d.attempts)::int AS attempts
         FROM event_deliveries d
         JOIN outbox_events o ON o.merchant_id = d.merchant_id AND o.id = d.event_id
        WHERE d.target = $1`,
      [endpoint.id],
    );
    const f = figures.rows[0];
    const stats = receiver.stats();
    await api('DELETE', `/webhook-endpoints/${endpoint.id}`, adminKey).catch(() => undefined);
    return {
      scenario: 'events:relay',
      events: EVENTS,
      'events/s': Math.round(EVENTS / f.span_s),
      'total s': Number(f.span_s.toFixed(1)),
      'commit→delivery p50 s': Number(f.p50_s.toFixed(2)),
      'commit→delivery p99 s': Number(f.p99_s.toFixed(2)),
      attempts: f.attempts,
      'duplicates at endpoint': stats.duplicates,
      'out of order': stats.outOfOrder,
    };
  } finally {
    await db.end();
    await receiver.close();
  }
}

module.exports = { eventsRelay };
