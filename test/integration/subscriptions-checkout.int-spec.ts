import { createHmac } from 'node:crypto';
import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment, ledgerTotals, runJob } from '../factories/payments';
import {
  advance,
  createPlan,
  getSubscription,
  invoicesOf,
  newMerchant,
  subscribe,
  subscriptionEvents,
  SubscriptionBody,
  TEST_CLOCK_ENV,
  uniqueEmail,
} from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** Subscriptions bought through the simulator's hosted page, renewed by Paybridge with the method the page saved. */
describe('subscriptions through the hosted checkout (simulator, test clock)', () => {
  const ACCESS_TOKEN = 'TEST-8837-445566-emulator';
  // Mercado Pago's hosted page (Checkout Pro) cannot save the card: a checkout that must save is refused there.
  const mercadoPago = new MercadoPagoEmulator({ webhookSecret: 'mp-webhook-secret-hosted-subs', accessToken: ACCESS_TOKEN });
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    const base = await mercadoPago.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      ...TEST_CLOCK_ENV,
      MERCADOPAGO_ACCESS_TOKEN: ACCESS_TOKEN,
      MERCADOPAGO_WEBHOOK_SECRET: 'mp-webhook-secret-hosted-subs',
      MERCADOPAGO_API_BASE: base,
      PROVIDER_ROUTING: 'BRL=mercadopago;*=simulator',
    });
  });
  afterAll(async () => {
    await mercadoPago.idle();
    await api?.close();
    await mercadoPago.stop();
    await dropDatabase(dbUrl);
  });

  const submit = (url: string, action: 'pay' | 'decline') => fetch(`${url}/${action}`, { method: 'POST', redirect: 'manual' });
  const getSession = async (sk: string, id: string) => (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', sk)).body;
  const subscriptionsOf = async (sk: string, email: string): Promise<SubscriptionBody[]> =>
    (await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', sk)).body.data;
  const whenStatus = (sk: string, email: string, status: string) =>
    eventually(async () => {
      const subs = await subscriptionsOf(sk, email);
      return subs.length > 0 && subs.every((s) => s.status === status) ? subs : undefined;
    });
  const counts = async (merchantId: string) =>
    (
      await api.db.query<{ sessions: number; payments: number; subscriptions: number; methods: number }>(
        `SELECT (SELECT count(*) FROM checkout_sessions WHERE merchant_id = $1)::int AS sessions,
                (SELECT count(*) FROM payments WHERE merchant_id = $1)::int AS payments,
                (SELECT count(*) FROM subscriptions WHERE merchant_id = $1)::int AS subscriptions,
                (SELECT count(*) FROM payment_methods WHERE merchant_id = $1)::int AS methods`,
        [merchantId],
      )
    ).rows[0];

  it('a product and a monthly plan with a once coupon, paid on the page: active, the saved method renews, the renewal undiscounted', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 2000);
    const oneTime = await createProduct(api, m.admin, { prices: [{ currency: 'USD', amount: 1000 }] });
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', m.admin)
      .send({ code: `HOSTED${Date.now() % 100000}`, type: 'PERCENTAGE', percentOff: 10 });
    expect(coupon.status).toBe(201);
    const email = uniqueEmail();
    const created = await createCheckout(
      api,
      m.sk,
      checkoutBody(plan.id, {
        items: [
          { productId: plan.id, quantity: 1 },
          { productId: oneTime.id, quantity: 1 },
        ],
        customer: { email, name: 'Hosted Subscriber' },
        couponCode: coupon.body.code,
        provider: 'simulator',
      }),
    );
    expect(created.status).toBe(201);
    const session = created.body;
    expect(session).toMatchObject({
      status: 'open',
      provider: 'simulator',
      subtotal: 3000,
      discount: 300,
      total: 2700,
      savePaymentMethod: true,
    });
    // The page can say the plan renews: the subscription line carries its interval.
    expect(session.lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ productId: plan.id, interval: 'month' }),
        expect.objectContaining({ productId: oneTime.id }),
      ]),
    );
    expect(session.lines.find((l: { productId: string }) => l.productId === oneTime.id).interval ?? null).toBeNull();
    // Created with the session, incomplete until it is paid.
    const [pending] = await subscriptionsOf(m.sk, email);
    expect(pending).toMatchObject({ status: 'incomplete', productId: plan.id, provider: 'simulator', paymentMethodId: null });

    const paid = await submit(session.url, 'pay');
    expect(paid.status).toBe(303);
    const [sub] = await whenStatus(m.sk, email, 'active');
    expect(sub.paymentMethodId).toMatch(/^pm_/);
    const completed = await getSession(m.sk, session.id);
    expect(completed.status).toBe('complete');
    expect(await getPayment(api, m.sk, completed.paymentId)).toMatchObject({ status: 'succeeded', amount: 2700, discount: 300 });
    const methods = await api.http().get(`/customers/${sub.customer.id}/payment-methods`).set('X-Api-Key', m.sk);
    expect(methods.body.data).toEqual([
      expect.objectContaining({ id: sub.paymentMethodId, provider: 'simulator', brand: 'visa', last4: '4242' }),
    ]);

    const { ran } = await advance(api, m.admin, 31);
    expect(ran.renewals).toBe(1);
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status, i.amount, i.discount])).toEqual([
      ['first', 'paid', 1800, 200],
      ['renewal', 'paid', 2000, 0],
    ]);
    // The renewal was charged on the method the page saved (the simulator's vault card).
    const renewal = await getPayment(api, m.sk, invoices[1].paymentId as string);
    expect(renewal).toMatchObject({ status: 'succeeded', amount: 2000, provider: 'simulator' });
    const { rows } = await api.db.query<{ payment_method: string }>(
      `SELECT payment_method FROM payment_attempts WHERE merchant_id = $1 AND payment_id = $2`,
      [m.id, renewal.id],
    );
    expect(rows.map((r) => r.payment_method)).toEqual([sub.paymentMethodId]);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active', paymentMethodId: sub.paymentMethodId });
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.renewed']);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('a declined attempt leaves the session open and the subscription incomplete; paying then activates it', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1500);
    const email = uniqueEmail();
    const session = (
      await createCheckout(
        api,
        m.sk,
        checkoutBody(plan.id, { items: [{ productId: plan.id, quantity: 1 }], customer: { email }, provider: 'simulator' }),
      )
    ).body;
    expect((await submit(session.url, 'decline')).status).toBe(303);
    await eventually(async () => (await getPayment(api, m.sk, session.paymentId)).status === 'failed');
    expect((await getSession(m.sk, session.id)).status).toBe('open');
    expect((await subscriptionsOf(m.sk, email)).map((s) => s.status)).toEqual(['incomplete']);
    expect((await counts(m.id)).methods).toBe(0);

    expect((await submit(session.url, 'pay')).status).toBe(303);
    const [sub] = await whenStatus(m.sk, email, 'active');
    expect(sub.paymentMethodId).toMatch(/^pm_/);
    const completed = await getSession(m.sk, session.id);
    expect(completed.paymentId).not.toBe(session.paymentId);
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status, i.paymentId])).toEqual([['first', 'paid', completed.paymentId]]);
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated']);
    await advance(api, m.admin, 31);
    expect((await invoicesOf(api, m.sk, sub.id)).map((i) => [i.kind, i.status])).toEqual([
      ['first', 'paid'],
      ['renewal', 'paid'],
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('an expired session leaves nothing active: its subscription incomplete, never renewed, its page closed', async () => {
    const m = await newMerchant(api);
    const plan = await createPlan(api, m.admin, 1500);
    const email = uniqueEmail();
    const session = (
      await createCheckout(
        api,
        m.sk,
        checkoutBody(plan.id, { items: [{ productId: plan.id, quantity: 1 }], customer: { email }, provider: 'simulator' }),
      )
    ).body;
    await api.db.query(`UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [session.id]);
    expect(await runJob(() => api.app.get(PaymentJobs).expireSessions())).toBeGreaterThanOrEqual(1);
    expect((await getSession(m.sk, session.id)).status).toBe('expired');
    expect((await submit(session.url, 'pay')).status).toBe(409);
    const { ran } = await advance(api, m.admin, 40);
    expect(ran.renewals).toBe(0);
    const [sub] = await subscriptionsOf(m.sk, email);
    expect(sub).toMatchObject({ status: 'incomplete', paymentMethodId: null });
    expect((await invoicesOf(api, m.sk, sub.id)).map((i) => i.kind)).toEqual(['first']);
    expect(await subscriptionEvents(api, sub.id)).toEqual([]);
    expect((await getPayment(api, m.sk, session.paymentId)).status).toBe('canceled');
  });

  it('bad input: 4xx with nothing written', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [
        { currency: 'USD', amount: 1500 },
        { currency: 'BRL', amount: 7500 },
      ],
    });
    const oneTime = await createProduct(api, m.admin, {
      prices: [
        { currency: 'USD', amount: 1000 },
        { currency: 'BRL', amount: 5000 },
      ],
    });
    const cart = { items: [{ productId: plan.id, quantity: 1 }] };
    const cases: Array<[Record<string, unknown>, number, string | null]> = [
      // Mercado Pago's hosted page cannot save the card.
      [{ ...cart, currency: 'BRL' }, 422, 'payment_method_not_supported'],
      [{ items: [{ productId: oneTime.id, quantity: 1 }], currency: 'BRL', savePaymentMethod: true }, 422, 'payment_method_not_supported'],
      [{ items: [{ productId: 'prod_unknown', quantity: 1 }], provider: 'simulator' }, 422, null],
      [{ ...cart, savePaymentMethod: 'yes', provider: 'simulator' }, 400, null],
    ];
    for (const [overrides, status, code] of cases) {
      const res = await createCheckout(api, m.sk, checkoutBody(plan.id, overrides));
      expect([overrides, res.status]).toEqual([overrides, status]);
      if (code) expect(res.body.error.code).toBe(code);
      expect(res.body.error.requestId).toBeDefined();
    }
    expect(await counts(m.id)).toEqual({ sessions: 0, payments: 0, subscriptions: 0, methods: 0 });
  });

  it('savePaymentMethod on a one-time cart: the page saves the card for the customer (one provider customer), no subscription', async () => {
    const m = await newMerchant(api);
    const oneTime = await createProduct(api, m.admin, { prices: [{ currency: 'USD', amount: 1000 }] });
    const email = uniqueEmail();
    for (let purchase = 0; purchase < 2; purchase++) {
      const session = (
        await createCheckout(api, m.sk, checkoutBody(oneTime.id, { customer: { email }, savePaymentMethod: true, provider: 'simulator' }))
      ).body;
      expect(session.savePaymentMethod).toBe(true);
      expect(await (await fetch(session.url)).text()).toContain('Your card will be saved');
      await submit(session.url, 'pay');
      await eventually(async () => (await getSession(m.sk, session.id)).status === 'complete');
    }
    // The second page saved its card for the simulator customer the first one created.
    const { rows } = await api.db.query<{ ref: string }>(
      `SELECT provider_customer_ref AS ref FROM payment_methods WHERE merchant_id = $1 ORDER BY created_at`,
      [m.id],
    );
    expect(rows).toHaveLength(2);
    expect(rows[1].ref).toBe(rows[0].ref);
    const customers = await api.db.query(`SELECT 1 FROM provider_customers WHERE merchant_id = $1`, [m.id]);
    expect(customers.rows).toHaveLength(1);
    expect(await subscriptionsOf(m.sk, email)).toEqual([]);
  });

  it('a completion naming a saved method the simulator does not show is held as a dead letter, nothing saved', async () => {
    const m = await newMerchant(api);
    const oneTime = await createProduct(api, m.admin, { prices: [{ currency: 'USD', amount: 1000 }] });
    const session = (await createCheckout(api, m.sk, checkoutBody(oneTime.id, { provider: 'simulator' }))).body;
    expect(session.savePaymentMethod).toBe(false);
    await submit(session.url, 'pay');
    await eventually(async () => (await getSession(m.sk, session.id)).status === 'complete');
    const stored = await api.db.query(`SELECT payload FROM payment_webhook_events WHERE payload->>'reference' = $1`, [session.id]);
    const genuine = stored.rows[0].payload.payload;
    // Signed with the right secret, the real charge, but a saved method the vault never saved for it.
    const body = JSON.stringify({ ...genuine, id: `evt_sim_${session.id}_pm`, data: { ...genuine.data, paymentMethod: 'sim_pm_forged' } });
    const res = await api
      .http()
      .post('/webhooks/simulator')
      .set('Content-Type', 'application/json')
      .set('X-Signature', createHmac('sha256', 'whsec_simulator_dev').update(body).digest('hex'))
      .send(body);
    expect(res.status).toBe(200);
    const held = await eventually(async () => {
      const { rows } = await api.db.query<{ status: string }>(`SELECT status FROM payment_webhook_events WHERE event_id = $1`, [
        `evt_sim_${session.id}_pm`,
      ]);
      return rows[0]?.status === 'dead' && rows[0];
    });
    expect(held.status).toBe('dead');
    expect((await counts(m.id)).methods).toBe(0);
  });

  it('two plans in one cart (hosted, then direct): two subscriptions, both active with the one payment and the saved method', async () => {
    const m = await newMerchant(api);
    const monthly = await createPlan(api, m.admin, 1000);
    const yearly = await createPlan(api, m.admin, 9000, 'year');
    const email = uniqueEmail();
    const created = await createCheckout(
      api,
      m.sk,
      checkoutBody(monthly.id, {
        items: [
          { productId: monthly.id, quantity: 1 },
          { productId: yearly.id, quantity: 1 },
        ],
        customer: { email },
        provider: 'simulator',
      }),
    );
    expect(created.status).toBe(201);
    await submit(created.body.url, 'pay');
    const subs = await whenStatus(m.sk, email, 'active');
    expect(subs.map((s) => s.interval).sort()).toEqual(['month', 'year']);
    expect(new Set(subs.map((s) => s.paymentMethodId)).size).toBe(1);
    for (const sub of subs) expect((await invoicesOf(api, m.sk, sub.id)).map((i) => [i.kind, i.status])).toEqual([['first', 'paid']]);
    // The same cart bought directly: one payment, two first invoices naming it.
    const direct = await subscribe(api, m.sk, monthly.id, 'tok_visa', {
      items: [
        { productId: monthly.id, quantity: 1 },
        { productId: yearly.id, quantity: 1 },
      ],
    });
    expect(direct.res.status).toBe(201);
    expect(direct.subscriptions.map((s) => s.status)).toEqual(['active', 'active']);
  });
});
