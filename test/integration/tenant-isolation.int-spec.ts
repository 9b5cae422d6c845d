import { randomBytes } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import type { KeyKind } from '../../src/auth/auth.types';
import { purchaseGiftCard } from '../factories/gift-cards';
import { checkoutBody, createCheckout, createProduct, eventually, newKey, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { deliverSimulatorEvent } from '../factories/webhooks';

type Keys = Record<KeyKind, string>;

/**
 * Two merchants on one installation: everything merchant A owns is invisible and untouchable with
 * merchant B's keys (404, as if it did not exist: B cannot even learn an id is taken), B's lists and
 * ledger show B's own data only, and A's data reads the same before and after B's attempts.
 */
describe('tenant isolation (two merchants, real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let a: Keys;
  let b: Keys;
  const seen: {
    paymentId: string;
    refundedPaymentId: string;
    sessionId: string;
    sessionPaymentId: string;
    giftCardCode: string;
    couponCode: string;
    productId: string;
    deadLetterId: string;
  } = {} as never;

  async function merchant(): Promise<Keys> {
    const id = `mer_${randomBytes(6).toString('hex')}`;
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ($1, $2)`, [id, `Merchant ${id}`]);
    const keys = api.app.get(ApiKeysService);
    const secret = async (kind: KeyKind) => (await keys.create(id, kind)).secret;
    return { publishable: await secret('publishable'), secret: await secret('secret'), admin: await secret('admin') };
  }

  const get = (key: string, path: string) => api.http().get(path).set('X-Api-Key', key);
  const post = (key: string, path: string, body: object = {}) =>
    api.http().post(path).set('X-Api-Key', key).set('Idempotency-Key', newKey()).send(body);

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // One attempt: A's failing webhook becomes a dead letter at once.
    api = await startTestApp(dbUrl, { WEBHOOK_MAX_ATTEMPTS: '1' });
    [a, b] = [await merchant(), await merchant()];

    const product = await createProduct(api, a.admin, { prices: [{ currency: 'USD', amount: 4000 }] });
    seen.productId = product.id;
    const coupon = await post(a.admin, '/admin/coupons', {
      code: `A${randomBytes(4).toString('hex')}`,
      type: 'PERCENTAGE',
      percentOff: 10,
    });
    expect(coupon.status).toBe(201);
    seen.couponCode = coupon.body.code;

    const paid = await processPayment(api, a.secret, processBody(product.id, 'tok_visa', { couponCode: seen.couponCode }));
    expect(paid.body).toMatchObject({ status: 'succeeded', couponCode: seen.couponCode });
    seen.paymentId = paid.body.id;
    const toRefund = await processPayment(api, a.secret, processBody(product.id, 'tok_visa'));
    seen.refundedPaymentId = toRefund.body.id;
    expect((await post(a.admin, `/transactions/${toRefund.body.id}/refund`, { amount: 1000 })).status).toBe(201);

    const session = await createCheckout(api, a.publishable, checkoutBody(product.id));
    expect(session.status).toBe(201);
    seen.sessionId = session.body.id;
    seen.sessionPaymentId = session.body.paymentId;

    const card = await purchaseGiftCard(api, a.publishable, { amount: 5000, currency: 'USD' });
    await fetch(`${card.body.checkoutSession.url}/pay`, { method: 'POST', redirect: 'manual' });
    seen.giftCardCode = card.body.giftCard.code;
    await eventually(async () => (await get(a.publishable, `/gift-cards/${seen.giftCardCode}/balance`)).body.status === 'active');

    // A's dead letter: a refund report about a charge nobody knows, for A.
    const merchantA = (await api.db.query(`SELECT merchant_id FROM products WHERE id = $1`, [product.id])).rows[0].merchant_id;
    const dead = await deliverSimulatorEvent(
      api,
      'charge.refunded',
      { merchantId: merchantA, reference: 'pay_unknown', sessionId: null, chargeId: 'ch_unknown', amount: 100, currency: 'USD' },
      (stored) => stored.status === 'dead',
    );
    seen.deadLetterId = (await api.db.query(`SELECT id FROM payment_webhook_events WHERE event_id = $1`, [dead.eventId])).rows[0].id;

    // B has a little business of its own, so that its lists are not empty by accident.
    const own = await createProduct(api, b.admin, { prices: [{ currency: 'USD', amount: 1500 }] });
    expect((await processPayment(api, b.secret, processBody(own.id, 'tok_visa'))).status).toBe(201);
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  /** Everything of A's, read through A's own keys. */
  async function snapshotOfA() {
    const reads = [
      get(a.secret, `/transactions/${seen.paymentId}`),
      get(a.secret, `/transactions/${seen.refundedPaymentId}`),
      get(a.secret, `/transactions/${seen.refundedPaymentId}/timeline`),
      get(a.secret, `/transactions/${seen.sessionPaymentId}`),
      get(a.publishable, `/payments/checkout/${seen.sessionId}`),
      get(a.secret, `/gift-cards/${seen.giftCardCode}`),
      get(a.admin, `/admin/coupons/${seen.couponCode}`),
      get(a.admin, `/admin/products/${seen.productId}`),
      get(a.admin, '/admin/ledger/balance?currency=USD'),
      get(a.secret, '/transactions?limit=100'),
      get(a.admin, '/admin/dead-letters'),
      get(a.admin, '/admin/coupons'),
      get(a.admin, '/admin/products'),
    ];
    return (await Promise.all(reads)).map((res) => ({ status: res.status, body: res.body as unknown }));
  }

  const expect404 = (res: { status: number; body: { error?: { code?: string } } }, what: string) => {
    expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status: 404, code: 'resource_missing' });
  };

  it("B's keys read none of A's payments, refunds, timelines, sessions, gift cards, coupons or products", async () => {
    for (const [key, path] of [
      [b.secret, `/transactions/${seen.paymentId}`],
      [b.publishable, `/transactions/${seen.paymentId}`],
      [b.secret, `/transactions/${seen.refundedPaymentId}/timeline`],
      [b.publishable, `/payments/checkout/${seen.sessionId}`],
      [b.secret, `/payments/checkout/${seen.sessionId}`],
      [b.secret, `/gift-cards/${seen.giftCardCode}`],
      [b.publishable, `/gift-cards/${seen.giftCardCode}/balance`],
      [b.admin, `/admin/coupons/${seen.couponCode}`],
      [b.admin, `/admin/products/${seen.productId}`],
      [b.publishable, `/products/${seen.productId}`],
    ]) {
      expect404(await get(key, path), `GET ${path}`);
    }
  });

  it("B's lists and ledger hold B's data only", async () => {
    const payments = await get(b.secret, '/transactions?limit=100');
    expect(payments.status).toBe(200);
    expect(payments.body.data).toHaveLength(1);
    const reports = await get(b.admin, '/admin/transactions?limit=100');
    expect(reports.body.data.map((p: { id: string }) => p.id)).toEqual(payments.body.data.map((p: { id: string }) => p.id));
    expect((await get(b.admin, '/admin/failed-payments')).body.data).toEqual([]);
    expect((await get(b.admin, '/admin/coupons')).body.data).toEqual([]);
    expect((await get(b.admin, '/admin/dead-letters')).body.data).toEqual([]);
    const products = await get(b.admin, '/admin/products?includeArchived=true');
    expect(products.body.data.map((p: { id: string }) => p.id)).not.toContain(seen.productId);
    expect(products.body.data).toHaveLength(1);
    const catalog = await get(b.publishable, '/products');
    expect(catalog.body.data.map((p: { id: string }) => p.id)).not.toContain(seen.productId);

    // B's ledger: its own 15.00 sale, nothing of A's charges, refund or gift card.
    const ledger = await get(b.admin, '/admin/ledger/balance?currency=USD');
    expect(ledger.body.balanced).toBe(true);
    const accounts = Object.fromEntries(ledger.body.accounts.map((x: { account: string; credits: number }) => [x.account, x.credits]));
    expect(accounts).toEqual({ 'receivable:simulator': 0, sales: 1500 });
  });

  it("B's keys change nothing of A's: refunds, retries, cancels, gift-card uses, coupon and product writes, replays, key revocation", async () => {
    const merchantA = (await api.db.query(`SELECT merchant_id FROM products WHERE id = $1`, [seen.productId])).rows[0].merchant_id;
    const spareKeyOfA = await api.app.get(ApiKeysService).create(merchantA, 'secret');
    const before = await snapshotOfA();

    const writes: [string, () => ReturnType<typeof post>][] = [
      ['refund', () => post(b.admin, `/transactions/${seen.paymentId}/refund`, { amount: 100 })],
      ['refund in full', () => post(b.admin, `/transactions/${seen.refundedPaymentId}/refund`)],
      ['retry', () => post(b.admin, `/admin/retry-payment/${seen.paymentId}`)],
      [
        'refund unmatched charge',
        () =>
          post(b.admin, `/admin/transactions/${seen.paymentId}/refund-unmatched-charge`, { provider: 'simulator', providerRef: 'ch_x' }),
      ],
      ['cancel session', () => post(b.publishable, `/payments/checkout/${seen.sessionId}/cancel`)],
      [
        'use gift card',
        () => post(b.secret, `/gift-cards/${seen.giftCardCode}/use`, { amount: 100, currency: 'USD', reference: 'b-order' }),
      ],
      ['redeem gift card', () => post(b.publishable, '/gift-cards/redeem', { code: seen.giftCardCode, userId: 'b-user' })],
      ['update coupon', () => api.http().patch(`/admin/coupons/${seen.couponCode}`).set('X-Api-Key', b.admin).send({ percentOff: 100 })],
      ['delete coupon', () => api.http().delete(`/admin/coupons/${seen.couponCode}`).set('X-Api-Key', b.admin)],
      [
        'update product',
        () => api.http().patch(`/admin/products/${seen.productId}`).set('X-Api-Key', b.admin).send({ name: 'Owned by B' }),
      ],
      ['archive product', () => api.http().delete(`/admin/products/${seen.productId}`).set('X-Api-Key', b.admin)],
      ['replay dead letter', () => post(b.admin, `/admin/dead-letters/${seen.deadLetterId}/replay`)],
      ['revoke api key', () => api.http().delete(`/admin/api-keys/${spareKeyOfA.id}`).set('X-Api-Key', b.admin)],
    ];
    for (const [what, write] of writes) expect404(await write(), what);

    // Money routes that name A's product, coupon or gift card in B's cart: answered as for a thing that does not exist.
    const ownProduct = (await get(b.admin, '/admin/products')).body.data[0].id as string;
    const carts: [string, (ref: string) => ReturnType<typeof post>][] = [
      ['process with a product', (id) => processPayment(api, b.secret, processBody(id, 'tok_visa'))],
      ['checkout with a product', (id) => createCheckout(api, b.publishable, checkoutBody(id))],
      ['gift-card purchase of a product', (id) => purchaseGiftCard(api, b.publishable, { productId: id })],
      ['process with a coupon', (code) => processPayment(api, b.secret, processBody(ownProduct, 'tok_visa', { couponCode: code }))],
      [
        'validate a coupon',
        (code) => post(b.publishable, '/coupons/validate', { code, currency: 'USD', items: [{ productId: ownProduct, quantity: 1 }] }),
      ],
      ['process with a gift card', (code) => processPayment(api, b.secret, processBody(ownProduct, 'tok_visa', { giftCardCode: code }))],
      ['checkout with a gift card', (code) => createCheckout(api, b.publishable, checkoutBody(ownProduct, { giftCardCode: code }))],
    ];
    const refs = [seen.productId, seen.productId, seen.productId, seen.couponCode, seen.couponCode, seen.giftCardCode, seen.giftCardCode];
    const unknown = [
      'prod_doesnotexist',
      'prod_doesnotexist',
      'prod_doesnotexist',
      'NOSUCHCODE',
      'NOSUCHCODE',
      'ZZZZ-ZZZZ-ZZZZ',
      'ZZZZ-ZZZZ-ZZZZ',
    ];
    for (const [i, [what, send]] of carts.entries()) {
      const [ofA, ofNobody] = [await send(refs[i]), await send(unknown[i])];
      expect({ what, status: ofA.status, code: ofA.body.error?.code }).toEqual({
        what,
        status: ofNobody.status,
        code: ofNobody.body.error?.code,
      });
      expect([what, ofA.status === 404 || ofA.status === 422]).toEqual([what, true]);
    }

    // Codes are per merchant: B can create its own coupon under A's code (a 409 would tell B the code is taken).
    const own = await post(b.admin, '/admin/coupons', { code: seen.couponCode, type: 'PERCENTAGE', percentOff: 50 });
    expect(own.status).toBe(201);

    expect(await snapshotOfA()).toEqual(before);
    expect((await get(spareKeyOfA.secret, '/transactions?limit=1')).status).toBe(200); // A's key still works
    // And A still uses what B could not touch.
    expect(
      (await post(a.secret, `/gift-cards/${seen.giftCardCode}/use`, { amount: 100, currency: 'USD', reference: 'a-order' })).status,
    ).toBe(200);
  });
});
