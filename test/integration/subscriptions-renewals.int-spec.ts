import { createProduct, ledgerTotals } from '../factories/payments';
import {
  advance,
  createPlan,
  getSubscription,
  invoicesOf,
  newMerchant,
  subscribe,
  subscriptionAction,
  subscriptionEvents,
  TEST_CLOCK_ENV,
} from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** Subscriptions on the simulator, renewed by Paybridge, through the HTTP API and the test clock. */
describe('subscriptions: purchase and renewals (test clock, simulator)', () => {
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

  const paymentsOf = async (merchantId: string) =>
    (
      await api.db.query<{ status: string; amount: number }>(
        `SELECT status, amount FROM payments WHERE merchant_id = $1 ORDER BY created_at`,
        [merchantId],
      )
    ).rows;

  it('a monthly plan: active after the first payment, three paid renewals over three periods, ledger balanced', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1500);
    const { res, subscriptions } = await subscribe(api, m.sk, plan.id);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 1500 });
    expect(subscriptions).toHaveLength(1);
    const sub = subscriptions[0];
    expect(sub).toMatchObject({ status: 'active', managedBy: 'paybridge', provider: 'simulator', amount: 1500, interval: 'month' });
    expect(sub.id).toMatch(/^sub_/);
    expect(sub.paymentMethodId).toMatch(/^pm_/);

    const before = await ledgerTotals(api, 'USD');
    for (let period = 0; period < 3; period++) await advance(api, m.admin, 31);
    const payments = await paymentsOf(m.id);
    expect(payments).toEqual(Array.from({ length: 4 }, () => ({ status: 'succeeded', amount: 1500 })));
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status])).toEqual([
      ['first', 'paid'],
      ['renewal', 'paid'],
      ['renewal', 'paid'],
      ['renewal', 'paid'],
    ]);
    // Periods follow each other without gaps.
    for (let i = 1; i < invoices.length; i++) expect(invoices[i].periodStart).toBe(invoices[i - 1].periodEnd);
    const after = await getSubscription(api, m.sk, sub.id);
    expect(after).toMatchObject({ status: 'active', currentPeriodStart: invoices[3].periodStart, currentPeriodEnd: invoices[3].periodEnd });
    expect(await subscriptionEvents(api, sub.id)).toEqual([
      'subscription.activated',
      'subscription.renewed',
      'subscription.renewed',
      'subscription.renewed',
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
    expect(Number(totals.credits) - Number(before.credits)).toBe(3 * 1500);
  });

  it('one advance past three periods runs the three renewals in order', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 900);
    const { subscriptions } = await subscribe(api, m.sk, plan.id);
    const { ran } = await advance(api, m.admin, 95);
    expect(ran).toEqual({ renewals: 3, retries: 0, canceled: 0, expired: 0 });
    expect((await paymentsOf(m.id)).filter((p) => p.status === 'succeeded')).toHaveLength(4);
    expect((await invoicesOf(api, m.sk, subscriptions[0].id)).filter((i) => i.kind === 'renewal')).toHaveLength(3);
  });

  it('a mixed cart with a once coupon: one payment, the first invoice discounted, the renewal at full price', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 2000);
    const oneTime = await createProduct(api, m.admin, { prices: [{ currency: 'USD', amount: 1000 }] });
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', m.admin)
      .send({ code: `ONCE${Date.now() % 100000}`, type: 'PERCENTAGE', percentOff: 10 });
    expect(coupon.status).toBe(201);
    expect(coupon.body.duration).toBe('once');
    const { res, subscriptions } = await subscribe(api, m.sk, plan.id, 'tok_visa', {
      items: [
        { productId: plan.id, quantity: 1 },
        { productId: oneTime.id, quantity: 1 },
      ],
      couponCode: coupon.body.code,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 2700, discount: 300 });
    expect(subscriptions).toHaveLength(1);
    await advance(api, m.admin, 31);
    const invoices = await invoicesOf(api, m.sk, subscriptions[0].id);
    expect(invoices.map((i) => [i.kind, i.status, i.amount, i.discount])).toEqual([
      ['first', 'paid', 1800, 200],
      ['renewal', 'paid', 2000, 0],
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('a forever coupon discounts every renewal', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 2000);
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', m.admin)
      .send({ code: `EVER${Date.now() % 100000}`, type: 'FLAT', amountOff: 500, currency: 'USD', duration: 'forever' });
    expect(coupon.status).toBe(201);
    const { subscriptions } = await subscribe(api, m.sk, plan.id, 'tok_visa', { couponCode: coupon.body.code });
    await advance(api, m.admin, 62);
    const invoices = await invoicesOf(api, m.sk, subscriptions[0].id);
    expect(invoices.map((i) => i.amount)).toEqual([1500, 1500, 1500]);
  });

  it('cancel at period end: no renewal after it, subscription.canceled at the end; resume undoes a pending cancel', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1200);
    const a = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const b = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const canceled = await subscriptionAction(api, m.sk, a.id, 'cancel', {});
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });
    expect((await subscriptionAction(api, m.sk, b.id, 'cancel', { atPeriodEnd: true })).status).toBe(200);
    const resumed = await subscriptionAction(api, m.sk, b.id, 'resume');
    expect(resumed.body).toMatchObject({ status: 'active', cancelAtPeriodEnd: false });

    const { ran } = await advance(api, m.admin, 40);
    expect(ran).toMatchObject({ renewals: 1, canceled: 1 });
    expect(await getSubscription(api, m.sk, a.id)).toMatchObject({ status: 'canceled', canceledAt: a.currentPeriodEnd });
    expect(await subscriptionEvents(api, a.id)).toEqual(['subscription.activated', 'subscription.canceled']);
    expect((await invoicesOf(api, m.sk, a.id)).map((i) => i.kind)).toEqual(['first']);
    expect((await getSubscription(api, m.sk, b.id)).status).toBe('active');
    await advance(api, m.admin, 40);
    expect((await invoicesOf(api, m.sk, a.id)).map((i) => i.kind)).toEqual(['first']);
    expect((await subscriptionAction(api, m.sk, a.id, 'resume')).status).toBe(422);
  });

  it('cancel now: canceled at once, subscription.canceled, never renewed', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1200);
    const sub = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const res = await subscriptionAction(api, m.sk, sub.id, 'cancel', { atPeriodEnd: false });
    expect(res.body).toMatchObject({ status: 'canceled' });
    expect((await advance(api, m.admin, 40)).ran.renewals).toBe(0);
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.canceled']);
  });
});
