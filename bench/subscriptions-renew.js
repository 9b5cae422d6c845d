// `npm run bench -- subscriptions:renew`: BENCH_SUBSCRIPTIONS due simulator subscriptions renewed by one
// advance of the test clock (bench/README.md). Started from bench/run.js.
const { randomBytes } = require('node:crypto');
const { setTimeout } = require('node:timers');
const { Client } = require('pg');

const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 100_000);
const INSERT_BATCH = 10_000;

// The claim statement of SubscriptionsRepository.claimDue (src/subscriptions/subscriptions.repository.ts),
// as EXPLAIN sees it with the due subscriptions in place (the UPDATE itself is not run here).
const CLAIM_PLAN = `EXPLAIN (COSTS, FORMAT TEXT)
  WITH bound AS (
    SELECT now() + make_interval(secs => coalesce(max(offset_seconds), 0)) AS latest FROM billing_clocks
  )
  SELECT s.merchant_id, s.id
    FROM subscriptions s
   WHERE s.managed_by = 'paybridge'
     AND s.next_due_at IS NOT NULL
     AND s.next_due_at <= (SELECT latest FROM bound)
     AND s.merchant_id = $1
     AND (s.claimed_until IS NULL OR s.claimed_until < now())
     AND s.next_due_at <= now() + make_interval(secs => coalesce(
           (SELECT offset_seconds FROM billing_clocks b WHERE b.merchant_id = s.merchant_id), 0))
   ORDER BY s.next_due_at
   LIMIT 50
   FOR UPDATE OF s SKIP LOCKED`;

/** The instance's resident memory (MB), from its Prometheus metrics. */
async function residentMb(base) {
  const res = await fetch(`${base}/metrics`);
  const line = (await res.text()).split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return line ? Math.round(Number(line.split(' ')[1]) / 1024 / 1024) : null;
}

async function subscriptionsRenew({ base, adminKey, databaseUrl, api }) {
  if (!databaseUrl) throw new Error('subscriptions:renew writes the due subscriptions straight into the database: set DATABASE_URL');
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const secret = (await api('POST', '/admin/api-keys', adminKey, { kind: 'secret', label: 'bench' })).secret;
    const plan = await api('POST', '/admin/products', adminKey, {
      name: 'Bench monthly plan',
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 990 }],
    });
    // One real purchase through the API: its customer, saved method and first payment are the template.
    const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
    await api('POST', '/payments/process', secret, {
      items: [{ productId: plan.id, quantity: 1 }],
      currency: 'USD',
      customer: { email },
      paymentMethod: { provider: 'simulator', token: 'tok_visa' },
    });
    const { rows } = await db.query(
      `SELECT s.merchant_id, s.id FROM subscriptions s JOIN customers c ON c.merchant_id = s.merchant_id AND c.id = s.customer_id
        WHERE c.email = $1`,
      [email],
    );
    const { merchant_id: merchantId, id: template } = rows[0];
    const runId = randomBytes(4).toString('hex');
    console.log(`subscriptions:renew: ${SUBSCRIPTIONS} due subscriptions of ${merchantId} (copies of ${template}), instances at ${base}`);
    for (let from = 0; from < SUBSCRIPTIONS - 1; from += INSERT_BATCH) {
      await db.query(
        `INSERT INTO subscriptions (merchant_id, id, customer_id, product_id, quantity, provider, managed_by, status, amount, currency,
                                    interval, current_period_start, current_period_end, payment_method_id, latest_invoice_id,
                                    first_payment_id, next_due_at)
         SELECT s.merchant_id, 'sub_bench_' || $2 || '_' || i, s.customer_id, s.product_id, s.quantity, s.provider, s.managed_by,
                s.status, s.amount, s.currency, s.interval, s.current_period_start, s.current_period_end, s.payment_method_id,
                s.latest_invoice_id, s.first_payment_id, s.next_due_at
           FROM subscriptions s, generate_series($3::int, $4::int) AS i
          WHERE s.merchant_id = $5 AND s.id = $1`,
        [template, runId, from, Math.min(from + INSERT_BATCH, SUBSCRIPTIONS - 1) - 1, merchantId],
      );
    }
    await db.query('ANALYZE subscriptions, invoices, payments, payment_attempts, ledger_entries, outbox_events');
    const explained = await db.query(CLAIM_PLAN.replace('$1', `'${merchantId}'`));

    let peak = (await residentMb(base)) ?? 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, (await residentMb(base).catch(() => 0)) ?? 0);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const started = Date.now();
    const advanced = await api('POST', '/admin/test-clock/advance', adminKey, { days: 32 });
    const seconds = (Date.now() - started) / 1000;
    running = false;
    await sampler;
    const paid = await db.query(
      `SELECT count(*)::int AS n FROM invoices WHERE merchant_id = $1 AND kind = 'renewal' AND status = 'paid' AND created_at >= to_timestamp($2 / 1000.0)`,
      [merchantId, started],
    );
    console.log('claim query plan:\n' + explained.rows.map((r) => `  ${r['QUERY PLAN']}`).join('\n'));
    return {
      scenario: 'subscriptions:renew',
      subscriptions: SUBSCRIPTIONS,
      renewals: advanced.ran.renewals,
      'paid invoices': paid.rows[0].n,
      seconds: Number(seconds.toFixed(1)),
      'renewals/s': Math.round(advanced.ran.renewals / seconds),
      'peak RSS MB': peak,
    };
  } finally {
    await db.end();
  }
}

module.exports = { subscriptionsRenew };
