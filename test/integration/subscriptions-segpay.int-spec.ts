import { randomBytes } from 'node:crypto';
import { SegpayEmulator } from '../emulators/segpay-emulator';
import { createProduct, eventually, ledgerTotals, processBody, processPayment, uniqueEmail } from '../factories/payments';
import {
  advance,
  getSubscription,
  invoicesOf,
  newMerchant,
  subscriptionAction,
  subscriptionEvents,
  SubscriptionBody,
} from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/**
 * Subscriptions through Segpay (`managedBy: "provider"`): bought by a one-click sale on the product's own
 * recurring price point, renewed by Segpay's rebills, mirrored from its postbacks once SRS confirms them.
 * The app's real SegpayProvider against the Segpay emulator; the test clock moves Paybridge's billing time
 * and the emulator rebills when the test says a period went by (Segpay's own schedule).
 */
describe('subscriptions through Segpay (renewed by Segpay: rebill and cancellation postbacks)', () => {
  const TOKEN = `pbk_${randomBytes(12).toString('hex')}`;
  const emulator = new SegpayEmulator({ merchantId: 'seg-merchant', userId: 'seg-user', userAccessKey: 'seg-key' });
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    await emulator.start();
    // The configured price point (a one-off, the fallback), a first purchase's, and the plans' own.
    emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 29.99, description: 'One-off' });
    emulator.addPricePoint({ packageId: '197002', pricePointId: '26002', initialPrice: 9.99, recurringPrice: 9.99, recurringDays: 30 });
    emulator.addPricePoint({ packageId: '197010', pricePointId: '26010', initialPrice: 19.99, recurringPrice: 19.99, recurringDays: 30 });
    // A price point whose rebill price is not the plan's price.
    emulator.addPricePoint({ packageId: '197012', pricePointId: '26012', initialPrice: 19.99, recurringPrice: 24.99, recurringDays: 30 });
    emulator.addPricePoint({ packageId: '197011', pricePointId: '26011', initialPrice: 199.0, recurringPrice: 199.0, recurringDays: 365 });
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      TEST_CLOCK_ENABLED: 'true',
      PROVIDER_ROUTING: 'USD=segpay;*=simulator',
      SEGPAY_MERCHANT_ID: 'seg-merchant',
      SEGPAY_USER_ID: 'seg-user',
      SEGPAY_API_KEY: 'seg-key',
      SEGPAY_PACKAGE_ID: '197001',
      SEGPAY_PRICE_POINT_ID: '26001',
      SEGPAY_PAYMENT_PAGE_BASE: emulator.url,
      SEGPAY_API_BASE: emulator.url,
      SEGPAY_POSTBACK_TOKEN: TOKEN,
      SEGPAY_POSTBACK_IPS: '127.0.0.1',
      PROVIDER_TIMEOUT_MS: '2000',
    });
    emulator.postbackUrl = `${api.url}/webhooks/segpay/${TOKEN}`;
  });
  afterAll(async () => {
    await emulator.idle();
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  /** A buyer's earlier purchase on Segpay's payment page: its purchase id is the method saved for one-click sales. */
  const earlierPurchase = async (email: string) => {
    const result = await emulator.completePurchase(
      emulator.paymentPageUrl({ eticketId: '197002:26002', prefill: { 'x-billemail': email } }),
    );
    return String(result.membership?.purchaseId);
  };

  /** Buys the plan with the purchase id; answers the subscription and the membership the one-click sale started. */
  const subscribe = async (m: { sk: string }, productId: string, overrides: Record<string, unknown> = {}) => {
    const email = uniqueEmail();
    const purchaseId = await earlierPurchase(email);
    const res = await processPayment(
      api,
      m.sk,
      processBody(productId, purchaseId, {
        customer: { email, name: 'Sub Scriber' },
        paymentMethod: { provider: 'segpay', token: purchaseId },
        ...overrides,
      }),
    );
    if (res.status !== 201) throw new Error(`purchase: ${res.status} ${JSON.stringify(res.body)}`);
    const list = await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', m.sk);
    const sub = (list.body.data as SubscriptionBody[])[0];
    const membership = emulator.memberships().find((x) => x.initialTranId === res.body.providerRef);
    if (!membership) throw new Error('the one-click sale started no membership');
    return { res, sub, membership };
  };

  const webhookRows = async (tranId: string) =>
    (
      await api.db.query<{ status: string; type: string; last_error: string | null }>(
        `SELECT status, type, last_error FROM payment_webhook_events WHERE provider = 'segpay' AND payload::text LIKE $1`,
        [`%"tranid": "${tranId}"%`],
      )
    ).rows;
  const settled = (tranId: string) => eventually(async () => (await webhookRows(tranId)).find((r) => r.status !== 'pending'));

  it('a monthly plan sells on its own price point; three rebills over three periods: three paid invoices, ledger balanced', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197010',
      segpayPricePointId: '26010',
    });
    const { res, sub, membership } = await subscribe(m, plan.id);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 1999, provider: 'segpay' });
    expect(sub).toMatchObject({ status: 'active', managedBy: 'provider', provider: 'segpay', amount: 1999, interval: 'month' });
    // The one-click sale went to the plan's own price point, which Segpay now rebills.
    expect(membership).toMatchObject({ eticketId: '197010:26010', recurring: true, status: 'active' });

    const before = await ledgerTotals(api, 'USD');
    for (let period = 1; period <= 3; period++) {
      // Paybridge's renewal job never charges it: the clock moving past the period end charges nothing.
      const ran = await advance(api, m.admin, 31);
      expect(ran.ran.renewals).toBe(0);
      const rebill = await emulator.rebill(membership.purchaseId);
      expect((await settled(rebill.tranId)).status).toBe('processed');
      expect((await invoicesOf(api, m.sk, sub.id)).filter((i) => i.status === 'paid')).toHaveLength(1 + period);
    }
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status, i.amount])).toEqual([
      ['first', 'paid', 1999],
      ['renewal', 'paid', 1999],
      ['renewal', 'paid', 1999],
      ['renewal', 'paid', 1999],
    ]);
    for (let i = 1; i < invoices.length; i++) expect(invoices[i].periodStart).toBe(invoices[i - 1].periodEnd);
    const { rows: payments } = await api.db.query(
      `SELECT status, amount, provider, provider_ref FROM payments WHERE merchant_id = $1 ORDER BY created_at`,
      [m.id],
    );
    expect(payments.map((p) => [p.status, p.amount, p.provider])).toEqual(Array.from({ length: 4 }, () => ['succeeded', 1999, 'segpay']));
    // Each renewal payment is the rebill Segpay made.
    const rebills = emulator.transactions().filter((t) => t.purchaseId === membership.purchaseId && t.stage !== 'Initial');
    expect(payments.slice(1).map((p) => p.provider_ref)).toEqual(rebills.map((t) => t.tranId));
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active', currentPeriodEnd: invoices[3].periodEnd });
    expect(await subscriptionEvents(api, sub.id)).toEqual([
      'subscription.activated',
      'subscription.renewed',
      'subscription.renewed',
      'subscription.renewed',
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
    expect(Number(totals.credits) - Number(before.credits)).toBe(3 * 1999);
  });

  it('an annual plan sells on its own price point too', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'year',
      prices: [{ currency: 'USD', amount: 19900 }],
      segpayPackageId: '197011',
      segpayPricePointId: '26011',
    });
    const { sub, membership } = await subscribe(m, plan.id);
    expect(sub).toMatchObject({ status: 'active', managedBy: 'provider', interval: 'year', amount: 19900 });
    expect(membership).toMatchObject({ eticketId: '197011:26011', recurring: true });
    const rebill = await emulator.rebill(membership.purchaseId);
    expect((await settled(rebill.tranId)).status).toBe('processed');
    expect((await invoicesOf(api, m.sk, sub.id)).map((i) => [i.kind, i.status, i.amount])).toEqual([
      ['first', 'paid', 19900],
      ['renewal', 'paid', 19900],
    ]);
  });

  it('a declined rebill: past_due mirrored (no retry of ours); Segpay’s next rebill pays that invoice: active again', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197010',
      segpayPricePointId: '26010',
    });
    const { sub, membership } = await subscribe(m, plan.id);
    emulator.setCardDeclines(membership.purchaseId);
    const declined = await emulator.rebill(membership.purchaseId);
    expect((await settled(declined.tranId)).status).toBe('processed');
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'past_due' });
    // Days go by: Paybridge retries nothing (Segpay retries by itself).
    const ran = await advance(api, m.admin, 40);
    expect(ran.ran).toEqual({ renewals: 0, retries: 0, canceled: 0, expired: 0 });
    emulator.setCardDeclines(membership.purchaseId, false);
    const paid = await emulator.rebill(membership.purchaseId);
    expect((await settled(paid.tranId)).status).toBe('processed');
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status, i.attempts])).toEqual([
      ['first', 'paid', 1],
      ['renewal', 'paid', 2],
    ]);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active' });
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.past_due', 'subscription.renewed']);
  });

  it('a cancellation postback (confirmed through SRS) cancels at once: subscription.canceled', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197010',
      segpayPricePointId: '26010',
    });
    const { sub, membership } = await subscribe(m, plan.id);
    const res = await fetch(
      `${emulator.url}/srs/memberships/${membership.purchaseId}/cancel?MerchantID=seg-merchant&UserID=seg-user&UserAccessKey=seg-key`,
      { method: 'POST' },
    );
    expect(res.status).toBe(200);
    await eventually(async () => (await getSubscription(api, m.sk, sub.id)).status === 'canceled');
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.canceled']);
  });

  it('cancel through the API cancels the membership at Segpay and ends it now; plan and method changes are refused (422)', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197010',
      segpayPricePointId: '26010',
    });
    const { sub, membership } = await subscribe(m, plan.id);
    const change = await subscriptionAction(api, m.sk, sub.id, 'change', { productId: plan.id });
    expect(change.status).toBe(422);
    expect(change.body.error.code).toBe('subscription_managed_by_provider');
    const res = await subscriptionAction(api, m.sk, sub.id, 'cancel', {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'canceled' });
    expect(emulator.memberships().find((x) => x.purchaseId === membership.purchaseId)).toMatchObject({ status: 'cancelled' });
    // Segpay's cancellation postback then finds it ended: one subscription.canceled.
    const cancelRow = await eventually(async () =>
      (
        await api.db.query<{ status: string }>(
          `SELECT status FROM payment_webhook_events WHERE provider = 'segpay' AND type = 'membership.cancelled' AND payload::text LIKE $1`,
          [`%"purchaseid": "${membership.purchaseId}"%`],
        )
      ).rows.find((r) => r.status !== 'pending'),
    );
    expect(cancelRow.status).toBe('ignored');
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.canceled']);
  });

  it('a rebill postback SRS does not confirm is a dead letter: nothing written', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197010',
      segpayPricePointId: '26010',
    });
    const { sub, membership } = await subscribe(m, plan.id);
    const forged = await emulator.sendForgedPostback({
      stage: 'Rebill',
      purchaseid: membership.purchaseId,
      eticketid: '197010:26010',
      price: '19.99',
    });
    const row = await settled(forged.fields.tranid);
    expect(row.status).toBe('dead');
    expect(row.last_error).toContain('does not confirm');
    expect(await invoicesOf(api, m.sk, sub.id)).toHaveLength(1);
    expect((await api.db.query(`SELECT count(*)::int AS n FROM payments WHERE merchant_id = $1`, [m.id])).rows[0].n).toBe(1);
  });

  it('a confirmed rebill for another amount than the subscription renews at is a dead letter: nothing written', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197012',
      segpayPricePointId: '26012',
    });
    const { sub, membership } = await subscribe(m, plan.id);
    const rebill = await emulator.rebill(membership.purchaseId);
    const row = await settled(rebill.tranId);
    expect(row.status).toBe('dead');
    expect(row.last_error).toContain(`does not match subscription ${sub.id}: amount 2499`);
    expect(await invoicesOf(api, m.sk, sub.id)).toHaveLength(1);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active' });
  });

  it('a forever coupon discounts only the first payment: Segpay rebills at its price, and the renewal invoice says so', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'USD', amount: 1999 }],
      segpayPackageId: '197010',
      segpayPricePointId: '26010',
    });
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', m.admin)
      .send({ code: `SEGEVER${Date.now() % 100000}`, type: 'FLAT', amountOff: 500, currency: 'USD', duration: 'forever' });
    expect(coupon.status).toBe(201);
    const { res, sub, membership } = await subscribe(m, plan.id, { couponCode: coupon.body.code });
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 1499 });
    const rebill = await emulator.rebill(membership.purchaseId);
    expect((await settled(rebill.tranId)).status).toBe('processed');
    expect((await invoicesOf(api, m.sk, sub.id)).map((i) => [i.kind, i.status, i.amount, i.discount])).toEqual([
      ['first', 'paid', 1499, 500],
      ['renewal', 'paid', 1999, 0],
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });
});
