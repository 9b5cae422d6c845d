// `npm run bench -- reconciliation`: BENCH_RECON_PAYMENTS simulator payments (every BENCH_RECON_REFUND_EVERY-th
// partly refunded) written straight into PostgreSQL (ours and the simulator's books, in SQL), then one
// reconciliation run over their window, through an API process this bench starts (bench/README.md).
const { spawn, execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { randomBytes } = require('node:crypto');
const { setTimeout: sleep } = require('node:timers/promises');
const { Client } = require('pg');

const SIZES = (process.env.BENCH_RECON_PAYMENTS ?? '100000').split(',').map(Number);
const REFUND_EVERY = Number(process.env.BENCH_RECON_REFUND_EVERY ?? 10);
const PORT = Number(process.env.BENCH_RECON_PORT ?? 44010);
const TIMEOUT_S = Number(process.env.BENCH_RECON_TIMEOUT ?? 900);
const MERCHANT = 'mer_default';
const DAY_MS = 24 * 60 * 60 * 1000;

/** kB of a process's resident memory: now (VmRSS) and its peak since it started (VmHWM). */
function memoryKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/**
 * One window's books, set-based: N payments of ours (succeeded, or partially refunded with their refund),
 * their ledger postings, and the simulator's charges and refunds that match them. Nothing goes through the
 * API: the bench measures the reconciliation, not the payments.
 */
async function generate(db, n, tag, from) {
  const span = DAY_MS - 1000;
  const at = `($2::timestamptz + (i * ${span}::bigint / $1) * interval '1 millisecond')`;
  const amount = `(1000 + i % 5000)`;
  const refunded = `(i % ${REFUND_EVERY} = 0)`;
  const series = `FROM generate_series(1, $1::int) AS i`;
  const id = (prefix) => `'${prefix}_${tag}_' || i`;
  const steps = {
    customer: [
      `INSERT INTO customers (merchant_id, id, email) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [MERCHANT, `cus_${tag}`, `bench-${tag}@example.com`],
    ],
    simulator_charges: [
      `INSERT INTO simulator_charges (id, merchant_id, idempotency_key, token, amount, currency, status, amount_refunded, reference, created_at, available_on)
       SELECT ${id('sim_ch')}, '${MERCHANT}', ${id('bench')}, 'tok_visa', ${amount}, 'USD', 'succeeded',
              CASE WHEN ${refunded} THEN 500 ELSE 0 END, ${id('pay')}, ${at}, ${at} ${series}`,
      [n, from],
    ],
    simulator_refunds: [
      `INSERT INTO simulator_refunds (id, idempotency_key, charge_id, amount, created_at)
       SELECT ${id('sim_re')}, ${id('bench_re')}, ${id('sim_ch')}, 500, ${at} ${series} WHERE ${refunded}`,
      [n, from],
    ],
    payments: [
      `INSERT INTO payments (merchant_id, id, status, amount, amount_refunded, currency, provider, provider_ref, customer_id, created_at, updated_at)
       SELECT '${MERCHANT}', ${id('pay')}, CASE WHEN ${refunded} THEN 'partially_refunded' ELSE 'succeeded' END, ${amount},
              CASE WHEN ${refunded} THEN 500 ELSE 0 END, 'USD', 'simulator', ${id('sim_ch')}, 'cus_${tag}', ${at}, ${at} ${series}`,
      [n, from],
    ],
    refunds: [
      `INSERT INTO refunds (merchant_id, id, payment_id, amount, currency, status, provider, provider_ref, origin, created_at, updated_at)
       SELECT '${MERCHANT}', ${id('re')}, ${id('pay')}, 500, 'USD', 'succeeded', 'simulator', ${id('sim_re')}, 'api', ${at}, ${at}
         ${series} WHERE ${refunded}`,
      [n, from],
    ],
    ledger_entries: [
      `INSERT INTO ledger_entries (merchant_id, posting_id, kind, account, direction, amount, currency, payment_id, refund_id, created_at)
       SELECT '${MERCHANT}', 'charge:' || ${id('pay')}, 'charge', l.account, l.direction, ${amount}, 'USD', ${id('pay')}, NULL, ${at}
         ${series}, (VALUES ('receivable:simulator', 'debit'), ('sales', 'credit')) AS l (account, direction)
        UNION ALL
       SELECT '${MERCHANT}', 'refund:' || ${id('re')}, 'refund', l.account, l.direction, 500, 'USD', ${id('pay')}, ${id('re')}, ${at}
         ${series}, (VALUES ('refunds', 'debit'), ('receivable:simulator', 'credit')) AS l (account, direction) WHERE ${refunded}`,
      [n, from],
    ],
  };
  const took = {};
  for (const [table, [sql, params]] of Object.entries(steps)) {
    const started = Date.now();
    await db.query(sql, params);
    took[table] = Date.now() - started;
  }
  const started = Date.now();
  await db.query('ANALYZE');
  took.analyze = Date.now() - started;
  return took;
}

/** The API process, started here so that its peak resident memory can be read (VmHWM). */
async function startApi(databaseUrl) {
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(PORT),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      JOBS_ENABLED: 'false',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${PORT}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the API exited (${child.exitCode}): is dist/ built (npm run build)?`);
    const up = await fetch(`${base}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { child, base };
    await sleep(100);
  }
  child.kill();
  throw new Error('the API did not start within 60 s');
}

async function runOnce(api, adminKey, window) {
  const headers = { 'X-Api-Key': adminKey, 'Content-Type': 'application/json', 'Idempotency-Key': randomBytes(8).toString('hex') };
  const started = Date.now();
  const res = await fetch(`${api.base}/admin/reconciliation/run`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ provider: 'simulator', from: window.from.toISOString(), to: window.to.toISOString() }),
  });
  if (!res.ok) throw new Error(`POST /admin/reconciliation/run: ${res.status} ${await res.text()}`);
  const { id } = await res.json();
  for (;;) {
    const run = await (await fetch(`${api.base}/admin/reconciliation/runs/${id}`, { headers })).json();
    if (run.status !== 'running') return { run, wallMs: Date.now() - started };
    if (Date.now() - started > TIMEOUT_S * 1000) throw new Error(`run ${id} still running after ${TIMEOUT_S} s`);
    await sleep(50);
  }
}

async function reconciliationBench({ databaseUrl }) {
  if (!databaseUrl) throw new Error('reconciliation writes its books straight into PostgreSQL: set DATABASE_URL (a fresh database)');
  const api = await startApi(databaseUrl);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const rows = [];
  try {
    const adminKey = execFileSync('npm', ['run', '--silent', 'keys:create', '--', '--kind', 'admin'], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      encoding: 'utf8',
    }).trim();
    for (const n of SIZES) {
      const tag = randomBytes(3).toString('hex');
      // A day of its own in the past for each size: windows never overlap.
      const from = new Date(Date.UTC(2001, 0, 1) + Math.floor(Math.random() * 7000) * DAY_MS);
      const window = { from, to: new Date(from.getTime() + DAY_MS) };
      const generated = await generate(db, n, tag, from);
      const before = memoryKb(api.child.pid);
      const { run, wallMs } = await runOnce(api, adminKey, window);
      const after = memoryKb(api.child.pid);
      if (run.status !== 'completed') throw new Error(`run ${run.id} ${run.status}: ${run.error}`);
      const seconds = (new Date(run.finishedAt) - new Date(run.startedAt)) / 1000;
      rows.push({
        payments: n,
        'generate s': Math.round(Object.values(generated).reduce((a, b) => a + b, 0) / 100) / 10,
        checked: run.counts.checked,
        matched: run.counts.matched,
        discrepancies: run.counts.discrepancies,
        'run s': seconds,
        'wall s': wallMs / 1000,
        'rows/s': Math.round(run.counts.checked / seconds),
        'RSS before MB': Math.round(before.rss / 1024),
        'peak RSS MB': Math.round(after.peak / 1024),
      });
      console.table(rows.slice(-1));
    }
  } finally {
    await db.end();
    api.child.kill('SIGTERM');
  }
  return rows;
}

module.exports = { reconciliationBench };
