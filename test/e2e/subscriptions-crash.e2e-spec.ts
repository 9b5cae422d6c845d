import { BillingClock } from '../../src/common/clock/billing-clock';
import { findFreePort } from '../../src/database/embedded-postgres';
import { eventually, ledgerTotals } from '../factories/payments';
import { advance, createPlan, getSubscription, invoicesOf, newMerchant, subscribe } from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { cleanEnv, spawnProject, Spawned, waitFor } from '../helpers/process';

/**
 * A renewal killed (SIGKILL) after the simulator recorded its charge and before Paybridge stored the
 * result (the simulator's latency, applied after it records the charge, holds that window open): after
 * recovery, one charge for that period.
 */
describe('renewal crash between the provider call and the stored result (real process, SIGKILL)', () => {
  let dbUrl: string;
  let victim: Spawned | undefined;
  let survivor: TestApp | undefined;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
  });
  afterEach(async () => {
    if (victim && victim.child.exitCode === null) victim.child.kill('SIGKILL');
    await survivor?.close();
    survivor = undefined;
  });
  afterAll(() => dropDatabase(dbUrl));

  /** A subscription due for renewal, whose renewal a victim process starts and dies in. */
  async function renewalThenKill(api: TestApp) {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1100);
    const sub = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    await api.app.get(BillingClock).advance(m.id, 32 * 86_400);

    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    victim = spawnProject(
      ['dist/main.js'],
      cleanEnv({
        DATABASE_URL: dbUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SIMULATOR_LATENCY_MS: '5000',
        JOBS_ENABLED: 'false',
        MIGRATE_ON_START: 'false',
        TEST_CLOCK_ENABLED: 'true',
      }),
    );
    await waitFor(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 30_000, 'the victim to start');
    const inFlight = fetch(`${base}/admin/test-clock/advance`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': m.admin },
      body: JSON.stringify({ seconds: 0 }),
    }).catch((err: unknown) => err);
    // The simulator has recorded the renewal's charge; the victim is waiting for its answer.
    const paymentId = await eventually(async () => {
      const { rows } = await api.db.query<{ id: string }>(
        `SELECT p.id FROM payments p JOIN simulator_charges c ON c.reference = p.id
          WHERE p.merchant_id = $1 AND p.idempotency_key LIKE 'renewal:%'`,
        [m.id],
      );
      return rows[0]?.id;
    }, 15_000);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(String(await inFlight)).toMatch(/fetch failed/);
    const { rows } = await api.db.query('SELECT status FROM payments WHERE id = $1', [paymentId]);
    expect(rows[0].status).toBe('processing');
    return { m, sub, paymentId };
  }

  async function expectOneChargeForThePeriod(api: TestApp, m: { id: string; sk: string }, subId: string, paymentId: string) {
    const charges = await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM simulator_charges WHERE merchant_id = $1`, [m.id]);
    expect(charges.rows[0].n).toBe(2); // the first payment and the one renewal
    const invoices = await invoicesOf(api, m.sk, subId);
    expect(invoices.map((i) => [i.kind, i.status, i.attempts])).toEqual([
      ['first', 'paid', 1],
      ['renewal', 'paid', 1],
    ]);
    expect(invoices[1].paymentId).toBe(paymentId);
    expect((await getSubscription(api, m.sk, subId)).currentPeriodStart).toBe(invoices[1].periodStart);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  }

  it('the next run (once the claim ran out) charges the same payment under the same key: one charge', async () => {
    survivor = await startTestApp(dbUrl, { TEST_CLOCK_ENABLED: 'true', JOBS_ENABLED: 'false' });
    const { m, sub, paymentId } = await renewalThenKill(survivor);
    // While the dead run's claim holds, nothing is taken over.
    expect((await advance(survivor, m.admin, 0)).ran.renewals + (await advance(survivor, m.admin, 0)).ran.retries).toBe(0);
    // The claim runs out (moved back in time, not waited for): the next run takes the subscription over.
    await survivor.db.query(`UPDATE subscriptions SET claimed_until = now() - interval '1 second' WHERE id = $1`, [sub.id]);
    const { ran } = await advance(survivor, m.admin, 0);
    expect(ran.renewals + ran.retries).toBe(1);
    expect((await survivor.db.query('SELECT status FROM payments WHERE id = $1', [paymentId])).rows[0].status).toBe('succeeded');
    await expectOneChargeForThePeriod(survivor, m, sub.id, paymentId);
  });

  it('the payments recovery job settles it by asking the simulator; the subscription renews with it: one charge', async () => {
    survivor = await startTestApp(dbUrl, {
      TEST_CLOCK_ENABLED: 'true',
      RECOVERY_INTERVAL_MS: '200',
      RECOVERY_MIN_AGE_SECONDS: '1',
      SUBSCRIPTION_RENEWAL_INTERVAL_MS: '600000',
    });
    const { m, sub, paymentId } = await renewalThenKill(survivor);
    await eventually(async () => {
      const { rows } = await survivor!.db.query('SELECT status FROM payments WHERE id = $1', [paymentId]);
      return rows[0].status === 'succeeded';
    }, 15_000);
    await survivor.db.query(`UPDATE subscriptions SET claimed_until = NULL WHERE id = $1`, [sub.id]);
    expect((await advance(survivor, m.admin, 0)).ran).toEqual({ renewals: 0, retries: 0, canceled: 0, expired: 0 });
    await expectOneChargeForThePeriod(survivor, m, sub.id, paymentId);
  });
});
