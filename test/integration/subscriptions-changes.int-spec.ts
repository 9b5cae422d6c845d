import { createProduct, newKey, processBody, processPayment } from '../factories/payments';
import {
  InvoiceBody,
  advance,
  createPlan,
  getSubscription,
  invoicesOf,
  newMerchant,
  saveMethod,
  subscribe,
  subscriptionAction,
  TEST_CLOCK_ENV,
} from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { prorate } from '../../src/subscriptions/subscriptions.service';

/** Plan changes, method changes, saved methods, and bad input (4xx, nothing written). */
describe('subscriptions: changes and bad input (test clock, simulator)', () => {
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

  const counts = async (merchantId: string) =>
    (
      await api.db.query(
        `SELECT (SELECT count(*) FROM payments WHERE merchant_id = $1)::int AS payments,
                (SELECT count(*) FROM invoices WHERE merchant_id = $1)::int AS invoices,
                (SELECT count(*) FROM subscriptions WHERE merchant_id = $1)::int AS subscriptions,
                (SELECT count(*) FROM outbox_events WHERE merchant_id = $1)::int AS events`,
        [merchantId],
      )
    ).rows[0];

  it('upgrade mid-period: the prorated difference charged now, to the second; the new plan renews at its price', async () => {
    const m = await newMerchant(api);
    const basic = await createPlan(api, m.admin, 1000);
    const pro = await createPlan(api, m.admin, 3000);
    const sub = (await subscribe(api, m.sk, basic.id)).subscriptions[0];
    await advance(api, m.admin, 10);
    const res = await subscriptionAction(api, m.sk, sub.id, 'change', { productId: pro.id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ productId: pro.id, amount: 3000, status: 'active', currentPeriodEnd: sub.currentPeriodEnd });
    const proration = (await invoicesOf(api, m.sk, sub.id)).find((i) => i.kind === 'proration') as InvoiceBody;
    const end = Date.parse(sub.currentPeriodEnd);
    const period = Math.floor((end - Date.parse(sub.currentPeriodStart)) / 1000);
    const remaining = Math.floor((end - Date.parse(proration.periodStart)) / 1000);
    expect(proration).toMatchObject({ status: 'paid', amount: prorate(2000, remaining, period) });
    // About two thirds of the month were left: about two thirds of the difference.
    expect(proration.amount).toBeGreaterThan(2000 * 0.6);
    expect(proration.amount).toBeLessThan(2000 * 0.7);
    const paid = await api.db.query(`SELECT status, amount FROM payments WHERE merchant_id = $1 ORDER BY created_at`, [m.id]);
    expect(paid.rows).toEqual([
      { status: 'succeeded', amount: 1000 },
      { status: 'succeeded', amount: proration.amount },
    ]);
    await advance(api, m.admin, 25);
    expect((await invoicesOf(api, m.sk, sub.id)).at(-1)).toMatchObject({ kind: 'renewal', status: 'paid', amount: 3000 });
  });

  it('prorate rounds half up, in integers', () => {
    expect(prorate(2000, 1, 3)).toBe(667);
    expect(prorate(1, 1, 2)).toBe(1);
    expect(prorate(3, 1, 4)).toBe(1);
    expect(prorate(2000, 0, 100)).toBe(0);
    expect(prorate(99_999_999, 31_622_400, 31_622_400)).toBe(99_999_999);
  });

  it('downgrade: nothing charged now; the cheaper plan starts with the next period', async () => {
    const m = await newMerchant(api);
    const pro = await createPlan(api, m.admin, 3000);
    const basic = await createPlan(api, m.admin, 1000);
    const sub = (await subscribe(api, m.sk, pro.id)).subscriptions[0];
    const res = await subscriptionAction(api, m.sk, sub.id, 'change', { productId: basic.id });
    expect(res.body).toMatchObject({ productId: pro.id, amount: 3000, pendingProductId: basic.id });
    expect((await counts(m.id)).payments).toBe(1);
    await advance(api, m.admin, 32);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ productId: basic.id, amount: 1000, pendingProductId: null });
    expect((await invoicesOf(api, m.sk, sub.id)).at(-1)).toMatchObject({ kind: 'renewal', amount: 1000, status: 'paid' });
  });

  it('bad input: unknown product, a ONE_TIME product, another merchant’s subscription: 4xx, nothing written', async () => {
    const m = await newMerchant(api);
    const other = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1000);
    const oneTime = await createProduct(api, m.admin);
    const yearly = await createPlan(api, m.admin, 9000, 'year');
    const sub = (await subscribe(api, m.sk, plan.id)).subscriptions[0];
    const before = await counts(m.id);

    const unknown = await subscriptionAction(api, m.sk, sub.id, 'change', { productId: 'prod_doesnotexist' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'product_unavailable', param: 'productId' });
    const once = await subscriptionAction(api, m.sk, sub.id, 'change', { productId: oneTime.id });
    expect(once.status).toBe(422);
    expect(once.body.error.code).toBe('product_not_compatible');
    expect((await subscriptionAction(api, m.sk, sub.id, 'change', { productId: yearly.id })).status).toBe(422);
    for (const [action, body] of [
      ['cancel', {}],
      ['resume', {}],
      ['change', { productId: plan.id }],
    ] as const) {
      const res = await subscriptionAction(api, other.sk, sub.id, action, body);
      expect(res.status).toBe(404);
    }
    expect((await api.http().get(`/subscriptions/${sub.id}`).set('X-Api-Key', other.sk)).status).toBe(404);
    expect((await api.http().get(`/subscriptions/${sub.id}/invoices`).set('X-Api-Key', other.sk)).status).toBe(404);
    const foreignMethod = await saveMethod(
      api,
      other.sk,
      (await subscribe(api, other.sk, (await createPlan(api, other.admin, 500)).id)).subscriptions[0].customer.id,
      'tok_visa',
    );
    expect((await subscriptionAction(api, m.sk, sub.id, 'payment-method', { paymentMethodId: foreignMethod.id })).status).toBe(404);
    expect((await subscriptionAction(api, m.sk, sub.id, 'change', {})).status).toBe(400);

    // Buying: an unknown product, and a subscription at a provider Paybridge does not renew.
    const bad = await processPayment(api, m.sk, processBody('prod_doesnotexist', 'tok_visa'));
    expect(bad.status).toBe(422);
    expect(await counts(m.id)).toEqual(before);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ productId: plan.id, amount: 1000, pendingProductId: null });
  });

  it('a decline on the first payment: the subscription stays incomplete and is never renewed', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1000);
    const { res, subscriptions } = await subscribe(api, m.sk, plan.id, 'tok_chargeCustomerFail');
    expect(res.status).toBe(402);
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]).toMatchObject({ status: 'incomplete', currentPeriodEnd: null });
    expect((await advance(api, m.admin, 40)).ran).toEqual({ renewals: 0, retries: 0, canceled: 0, expired: 0 });
  });

  it('a card that cannot be saved is refused before anything is written', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1000);
    const { res } = await subscribe(api, m.sk, plan.id, 'tok_chargeDeclined');
    expect(res.status).toBe(402);
    expect(await counts(m.id)).toMatchObject({ payments: 0, subscriptions: 0 });
  });

  it('saved methods: save, list, pay with paymentMethodId, delete (detached at the simulator: it no longer charges)', async () => {
    const m = await newMerchant(api);
    const product = await createProduct(api, m.admin);
    const first = await processPayment(api, m.sk, processBody(product.id, 'tok_visa', { savePaymentMethod: true }));
    expect(first.status).toBe(201);
    const customers = await api.http().get('/customers').query({ email: first.body.customer.email }).set('X-Api-Key', m.sk);
    expect(customers.body.data).toHaveLength(1);
    const customer = customers.body.data[0];
    expect(customer.id).toBe(first.body.customer.id);
    expect((await api.http().get(`/customers/${customer.id}`).set('X-Api-Key', m.sk)).body).toMatchObject({ id: customer.id });
    const mc = await saveMethod(api, m.sk, customer.id, 'tok_mastercard');
    const list = await api.http().get(`/customers/${customer.id}/payment-methods`).set('X-Api-Key', m.sk);
    expect(list.body.data.map((pm: Record<string, unknown>) => [pm.brand, pm.last4])).toEqual([
      ['visa', '4242'],
      ['mastercard', '4444'],
    ]);
    expect(JSON.stringify(list.body)).not.toMatch(/sim_pm_|sim_cus_|tok_/);

    const body = {
      ...processBody(product.id, 'unused', { customer: { email: customer.email } }),
      paymentMethod: undefined,
      paymentMethodId: mc.id,
    };
    const oneClick = await processPayment(api, m.sk, body);
    expect(oneClick.status).toBe(201);
    expect(oneClick.body.status).toBe('succeeded');

    const del = await api.http().delete(`/customers/${customer.id}/payment-methods/${mc.id}`).set('X-Api-Key', m.sk);
    expect(del.status).toBe(200);
    const detached = await api.db.query(
      `SELECT detached FROM simulator_saved_methods WHERE token = 'tok_mastercard' AND merchant_id = $1`,
      [m.id],
    );
    expect(detached.rows).toEqual([{ detached: true }]);
    expect((await api.http().get(`/customers/${customer.id}/payment-methods`).set('X-Api-Key', m.sk)).body.data).toHaveLength(1);
    const again = await processPayment(api, m.sk, body, newKey());
    expect(again.status).toBe(404);
  });

  it('the test clock routes answer 404 unless TEST_CLOCK_ENABLED=true', async () => {
    const m = await newMerchant(api);
    const plain = await startTestApp(dbUrl, { JOBS_ENABLED: 'false' });
    try {
      expect((await plain.http().get('/admin/test-clock').set('X-Api-Key', m.admin)).status).toBe(404);
      const res = await plain.http().post('/admin/test-clock/advance').set('X-Api-Key', m.admin).send({ days: 1 });
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error' });
    } finally {
      await plain.close();
    }
    expect((await api.db.query('SELECT 1 FROM billing_clocks WHERE merchant_id = $1', [m.id])).rows).toEqual([]);
    expect((await api.http().get('/admin/test-clock').set('X-Api-Key', m.admin)).body.now).toEqual(expect.any(String));
    expect((await api.http().get('/admin/test-clock').set('X-Api-Key', m.sk)).status).toBe(403);
  });
});
