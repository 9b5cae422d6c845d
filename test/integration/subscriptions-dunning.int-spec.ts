import {
  advance,
  createPlan,
  getSubscription,
  invoicesOf,
  newMerchant,
  saveMethod,
  subscribe,
  subscriptionAction,
  subscriptionEvents,
  TEST_CLOCK_ENV,
} from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** Dunning with the test clock: failed renewals, retries on DUNNING_RETRY_DAYS, grace, hard declines. */
describe('subscriptions: dunning (test clock, simulator)', () => {
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, TEST_CLOCK_ENV);
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const paymentStatuses = async (merchantId: string) =>
    (
      await api.db.query<{ status: string }>(`SELECT status FROM payments WHERE merchant_id = $1 ORDER BY created_at`, [merchantId])
    ).rows.map((r) => r.status);

  /** A subscription whose method is switched to `token` (saved), advanced to its renewal. */
  async function failingSubscription(token: string) {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1500);
    const sub = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const failing = await saveMethod(api, m.sk, sub.customer.id, token);
    expect((await subscriptionAction(api, m.sk, sub.id, 'payment-method', { paymentMethodId: failing.id })).status).toBe(200);
    const untilRenewal = Math.ceil((Date.parse(sub.currentPeriodEnd) - Date.parse(sub.currentPeriodStart)) / 1000);
    const day0 = await advance(api, m.admin, 0, untilRenewal);
    return { m, sub, day0 };
  }

  it('declined on day 0, declined on day 1, paid on day 3 with a new method: past_due then active, events in order', async () => {
    const { m, sub, day0 } = await failingSubscription('tok_chargeCustomerFail');
    expect(day0.ran).toMatchObject({ renewals: 1 });
    const pastDue = await getSubscription(api, m.sk, sub.id);
    expect(pastDue.status).toBe('past_due');
    expect(pastDue.dunning.attempt).toBe(1);
    // A day after the failure, which came after the advance's `now`.
    expect(Date.parse(pastDue.dunning.nextRetryAt) - Date.parse(day0.now)).toBeGreaterThanOrEqual(86_400_000);
    expect(Date.parse(pastDue.dunning.graceEndsAt) - Date.parse(pastDue.dunning.nextRetryAt)).toBe(6 * 86_400_000);

    const day1 = await advance(api, m.admin, 1);
    expect(day1.ran).toMatchObject({ retries: 1 });
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'past_due', dunning: { attempt: 2 } });
    // A working method: the retry keeps its planned day (day 3), nothing is charged before.
    const good = await saveMethod(api, m.sk, sub.customer.id, 'tok_visa');
    expect((await subscriptionAction(api, m.sk, sub.id, 'payment-method', { paymentMethodId: good.id })).status).toBe(200);
    expect((await advance(api, m.admin, 1)).ran).toMatchObject({ retries: 0 });
    const day3 = await advance(api, m.admin, 1);
    expect(day3.ran).toMatchObject({ retries: 1 });

    const active = await getSubscription(api, m.sk, sub.id);
    expect(active).toMatchObject({ status: 'active' });
    expect(active.dunning).toBeUndefined();
    expect(await paymentStatuses(m.id)).toEqual(['succeeded', 'failed', 'failed', 'succeeded']);
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.past_due', 'subscription.renewed']);
    const [, renewal] = await invoicesOf(api, m.sk, sub.id);
    expect(renewal).toMatchObject({ kind: 'renewal', status: 'paid', attempts: 3 });
    expect(active.currentPeriodStart).toBe(renewal.periodStart);
  });

  it('every retry declines: unpaid when retries and grace are spent, subscription.failed once, no charge after', async () => {
    const { m, sub } = await failingSubscription('tok_chargeCustomerFail');
    const ran = [];
    for (let day = 1; day <= 10; day++) ran.push((await advance(api, m.admin, 1)).ran);
    expect(ran.map((r) => r.retries)).toEqual([1, 0, 1, 0, 0, 0, 1, 0, 0, 0]); // days 1, 3 and 7
    expect(ran.reduce((sum, r) => sum + r.expired, 0)).toBe(1);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'unpaid' });
    expect(await paymentStatuses(m.id)).toEqual(['succeeded', 'failed', 'failed', 'failed', 'failed']);
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.past_due', 'subscription.failed']);
    expect((await invoicesOf(api, m.sk, sub.id))[1]).toMatchObject({ status: 'uncollectible', attempts: 4 });
    await advance(api, m.admin, 40);
    expect(await paymentStatuses(m.id)).toHaveLength(5);
  });

  it('a hard decline is not retried; a new method retries it at once', async () => {
    const { m, sub } = await failingSubscription('tok_chargeCustomerFailStolen');
    const pastDue = await getSubscription(api, m.sk, sub.id);
    expect(pastDue).toMatchObject({ status: 'past_due', dunning: { attempt: 1, nextRetryAt: null } });
    for (let day = 1; day <= 5; day++) expect((await advance(api, m.admin, 1)).ran.retries).toBe(0);
    expect(await paymentStatuses(m.id)).toEqual(['succeeded', 'failed']);
    const declined = (await api.db.query(`SELECT decline_code FROM payments WHERE merchant_id = $1 AND status = 'failed'`, [m.id])).rows;
    expect(declined).toEqual([{ decline_code: 'stolen_card' }]);

    const good = await saveMethod(api, m.sk, sub.customer.id, 'tok_visa');
    await subscriptionAction(api, m.sk, sub.id, 'payment-method', { paymentMethodId: good.id });
    expect((await advance(api, m.admin, 0, 1)).ran.retries).toBe(1);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active' });
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.past_due', 'subscription.renewed']);
  });

  it('the schedule in force at the first failure stays with the invoice; DUNNING_FINAL_ACTION=cancel cancels', async () => {
    const { m, sub } = await failingSubscription('tok_chargeCustomerFail');
    const planned = (await getSubscription(api, m.sk, sub.id)).dunning.nextRetryAt;
    // Another instance with another schedule and final action, on the same database.
    const other = await startTestApp(dbUrl, { ...TEST_CLOCK_ENV, DUNNING_RETRY_DAYS: '5', DUNNING_FINAL_ACTION: 'cancel' });
    try {
      expect((await advance(other, m.admin, 1)).ran.retries).toBe(1); // day 1, as planned under 1,3,7
      expect((await getSubscription(other, m.sk, sub.id)).dunning.attempt).toBe(2);
      expect(planned).not.toBeNull();
      for (let day = 2; day <= 8; day++) await advance(other, m.admin, 1);
      expect(await getSubscription(other, m.sk, sub.id)).toMatchObject({ status: 'canceled' });
      expect(await subscriptionEvents(api, sub.id)).toEqual([
        'subscription.activated',
        'subscription.past_due',
        'subscription.failed',
        'subscription.canceled',
      ]);
    } finally {
      await other.close();
    }
  });

  it('a provider that is down is not a decline: still active, tried again an hour later, no past_due', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1500);
    const sub = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    // An instance that finds the simulator down runs the renewal.
    const down = await startTestApp(dbUrl, { ...TEST_CLOCK_ENV, SIMULATOR_OUTAGE: 'true', JOBS_ENABLED: 'false' });
    try {
      expect((await advance(down, m.admin, 32)).ran.renewals).toBe(1);
    } finally {
      await down.close();
    }
    const failed = await api.db.query(`SELECT failure_code FROM payments WHERE merchant_id = $1 AND status = 'failed'`, [m.id]);
    expect(failed.rows).toEqual([{ failure_code: 'provider_unavailable' }]);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active' });
    const [, open] = await invoicesOf(api, m.sk, sub.id);
    expect(open).toMatchObject({ status: 'open', attempts: 1 });
    expect((await advance(api, m.admin, 0, 60)).ran.retries).toBe(0); // not yet: an hour later
    expect((await advance(api, m.admin, 0, 3600)).ran.retries).toBe(1);
    expect((await invoicesOf(api, m.sk, sub.id))[1]).toMatchObject({ status: 'paid', attempts: 2 });
    expect(await paymentStatuses(m.id)).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.renewed']);
  });

  it('cancel at period end while past due: its paid period is over, so it ends now, the open invoice void, never charged again', async () => {
    const { m, sub } = await failingSubscription('tok_chargeCustomerFail');
    const res = await subscriptionAction(api, m.sk, sub.id, 'cancel', { atPeriodEnd: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'canceled' });
    expect((await invoicesOf(api, m.sk, sub.id))[1]).toMatchObject({ kind: 'renewal', status: 'void' });
    expect((await advance(api, m.admin, 10)).ran).toEqual({ renewals: 0, retries: 0, canceled: 0, expired: 0 });
    expect(await paymentStatuses(m.id)).toEqual(['succeeded', 'failed']);
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.past_due', 'subscription.canceled']);
  });
});
