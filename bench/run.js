#!/usr/bin/env node
// Load test against a running Paybridge (starts nothing itself). See bench/README.md.
//   PAYBRIDGE_URL=http://127.0.0.1:3000 BENCH_ADMIN_KEY=ak_… npm run bench [-- scenario …]
const { randomUUID } = require('node:crypto');
const autocannon = require('autocannon');
const { eventsRelay } = require('./events-relay');
const { subscriptionsRenew } = require('./subscriptions-renew');
const { reconciliationBench } = require('./reconciliation');

const BASE = process.env.PAYBRIDGE_URL ?? 'http://127.0.0.1:3000';
const ADMIN_KEY = process.env.BENCH_ADMIN_KEY;
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
// Unmeasured seconds before each scenario: JIT compilation, pool connections and plan caches warm up first.
// V8 is still compiling the request path's functions several seconds into a payment run (bench/README.md).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
// The instance's database, when given: analyzed after each warm-up (see analyze()).
const DATABASE_URL = process.env.DATABASE_URL;

async function api(method, path, key, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { 'X-Api-Key': key, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function productBody() {
  return JSON.stringify({
    name: 'Bench product',
    prices: [
      { currency: 'USD', amount: 1999 },
      { currency: 'BRL', amount: 9990 },
    ],
  });
}

function paymentBody(productId) {
  return JSON.stringify({
    items: [{ productId, quantity: 1 }],
    currency: 'USD',
    customer: { email: 'bench@example.com' },
    paymentMethod: { provider: 'simulator', token: 'tok_visa' },
  });
}

const SCENARIOS = {
  'products:list': ({ publishable }) => ({ method: 'GET', path: '/products', headers: { 'X-Api-Key': publishable } }),
  'products:create': ({ admin }) => ({
    method: 'POST',
    path: '/admin/products',
    headers: { 'X-Api-Key': admin, 'Content-Type': 'application/json' },
    body: productBody(),
    // A fresh Idempotency-Key per request: every request really creates a product.
    setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'Idempotency-Key': randomUUID() } }),
  }),
  'payments:process': ({ secret, productId }) => ({
    method: 'POST',
    path: '/payments/process',
    headers: { 'X-Api-Key': secret, 'Content-Type': 'application/json' },
    body: paymentBody(productId),
    setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'Idempotency-Key': randomUUID() } }),
  }),
  // Replays of one finished key: the stored response, no new work.
  'payments:replay': ({ secret, productId, replayKey }) => ({
    method: 'POST',
    path: '/payments/process',
    headers: { 'X-Api-Key': secret, 'Content-Type': 'application/json', 'Idempotency-Key': replayKey },
    body: paymentBody(productId),
  }),
};

/** The instance's resident memory now (MB), from its Prometheus metrics (prom-client's default process metrics). */
async function residentMb() {
  const res = await fetch(`${BASE}/metrics`);
  const line = (await res.text()).split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return line ? Math.round(Number(line.split(' ')[1]) / 1024 / 1024) : null;
}

/**
 * ANALYZE, as autovacuum would have by now: the machine's PostgreSQL runs with autovacuum off, and
 * without statistics the plans an instance cached while the tables were empty stay (a payment lookup
 * walking every payment of the merchant; bench/README.md). New statistics make every connection plan again.
 */
async function analyze() {
  if (!DATABASE_URL) return;
  const { Client } = require('pg');
  const client = new Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

function run(name, request, duration = DURATION) {
  return new Promise((resolve, reject) => {
    autocannon({ url: BASE, connections: CONNECTIONS, duration, requests: [request] }, (err, result) =>
      err ? reject(err) : resolve({ name, result }),
    );
  });
}

async function main() {
  // reconciliation starts its own API process and needs no running instance nor admin key (bench/README.md).
  if (process.argv.slice(2).join(' ') === 'reconciliation') {
    console.table(await reconciliationBench({ databaseUrl: DATABASE_URL }));
    return;
  }
  if (!ADMIN_KEY) throw new Error('Set BENCH_ADMIN_KEY to an admin key (npm run --silent keys:create -- --kind admin)');
  const publishable = (await api('POST', '/admin/api-keys', ADMIN_KEY, { kind: 'publishable', label: 'bench' })).secret;
  const secret = (await api('POST', '/admin/api-keys', ADMIN_KEY, { kind: 'secret', label: 'bench' })).secret;
  const productId = (await api('POST', '/admin/products', ADMIN_KEY, JSON.parse(productBody()))).id;
  const replayKey = randomUUID();
  const first = await fetch(`${BASE}/payments/process`, {
    method: 'POST',
    headers: { 'X-Api-Key': secret, 'Content-Type': 'application/json', 'Idempotency-Key': replayKey },
    body: paymentBody(productId),
  });
  if (first.status !== 201) throw new Error(`first payment failed: ${first.status} ${await first.text()}`);
  const keys = { admin: ADMIN_KEY, publishable, secret, productId, replayKey };
  // events:relay and subscriptions:renew are not HTTP loads: they run only when named (it needs DATABASE_URL; bench/README.md).
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SCENARIOS);
  console.log(
    `Paybridge bench: ${BASE}, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per scenario` +
      (DATABASE_URL ? ', ANALYZE after each warm-up' : ' (set DATABASE_URL to ANALYZE after each warm-up)'),
  );
  const rows = [];
  for (const name of wanted) {
    if (name === 'events:relay') {
      console.table([await eventsRelay({ base: BASE, adminKey: ADMIN_KEY, databaseUrl: DATABASE_URL, api })]);
      continue;
    }
    if (name === 'subscriptions:renew') {
      console.table([await subscriptionsRenew({ base: BASE, adminKey: ADMIN_KEY, databaseUrl: DATABASE_URL, api })]);
      continue;
    }
    if (!SCENARIOS[name])
      throw new Error(`Unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}, events:relay, subscriptions:renew`);
    if (WARMUP > 0) await run(name, SCENARIOS[name](keys), WARMUP);
    await analyze();
    const { result } = await run(name, SCENARIOS[name](keys));
    rows.push({
      scenario: name,
      'req/s': Math.round(result.requests.average),
      'p50 ms': result.latency.p50,
      'p99 ms': result.latency.p99,
      'max ms': result.latency.max,
      '2xx': result['2xx'],
      'non-2xx': result.non2xx,
      errors: result.errors + result.timeouts,
      'RSS MB': await residentMb(),
    });
  }
  if (rows.length) console.table(rows);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
