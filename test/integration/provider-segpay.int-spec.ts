import { randomBytes } from 'node:crypto';
import { SegpayEmulator } from '../emulators/segpay-emulator';
import { checkoutBody, createCheckout, createProduct, eventually, ledgerTotals, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

/**
 * Segpay through our API against the Segpay emulator: hosted payment page, unsigned postbacks to
 * /webhooks/segpay/:token confirmed through SRS, refunds through SRS. USD is routed to Segpay.
 * This file: checkout and postbacks; refunds, retrieve and direct charges are in provider-segpay-refunds.int-spec.ts.
 */
describe('Segpay provider (hosted page, postbacks confirmed by SRS, SRS refunds)', () => {
  const TOKEN = `pbk_${randomBytes(12).toString('hex')}`;
  const emulator = new SegpayEmulator({ merchantId: 'seg-merchant', userId: 'seg-user', userAccessKey: 'seg-key' });
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    await emulator.start();
    // The price point's price must equal the checkout total: one product at USD 29.99.
    emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 29.99, description: 'Test product' });
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, env());
    emulator.postbackUrl = `${api.url}/webhooks/segpay/${TOKEN}`;
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  const env = () => ({
    PROVIDER_ROUTING: 'USD=segpay;*=simulator',
    SEGPAY_MERCHANT_ID: 'seg-merchant',
    SEGPAY_USER_ID: 'seg-user',
    SEGPAY_API_KEY: 'seg-key',
    SEGPAY_PACKAGE_ID: '197001',
    SEGPAY_PRICE_POINT_ID: '26001',
    SEGPAY_PAYMENT_PAGE_BASE: emulator.url,
    SEGPAY_API_BASE: emulator.url,
    SEGPAY_POSTBACK_TOKEN: TOKEN,
    SEGPAY_POSTBACK_IPS: '10.0.0.0/8,127.0.0.1',
    // The allow-list judges the client address, X-Forwarded-For included when a proxy is trusted.
    TRUST_PROXY: 'true',
    PROVIDER_TIMEOUT_MS: '2000',
  });
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });
  afterEach(() => {
    emulator.clearFaults();
    emulator.postbackUrl = `${api.url}/webhooks/segpay/${TOKEN}`;
  });

  const createSession = async () => {
    const res = await createCheckout(api, pk, checkoutBody(productId, { items: [{ productId, quantity: 1 }] }));
    expect(res.status).toBe(201);
    return res.body;
  };
  const getSession = async (id: string) => (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', pk)).body;
  const completed = (sessionId: string) =>
    eventually(async () => {
      const s = await getSession(sessionId);
      return s.status === 'complete' ? s : undefined;
    });
  const eventsFor = async (tranId: string) =>
    (
      await api.db.query<{ event_id: string; status: string; type: string }>(
        `SELECT event_id, status, type FROM payment_webhook_events WHERE provider = 'segpay' AND event_id LIKE $1 ORDER BY received_at`,
        [`${tranId}:%`],
      )
    ).rows;
  const settledEvent = (tranId: string, status: 'processed' | 'ignored' | 'dead') =>
    eventually(async () => (await eventsFor(tranId)).find((e) => e.status === status));
  const srsLookups = (tranId: string) =>
    emulator.requestLog().filter((r) => r.method === 'GET' && r.path === `/srs/transactions/${tranId}`);
  const paymentsOfSession = async (sessionId: string) =>
    (await api.db.query(`SELECT id, status FROM payments WHERE checkout_session_id = $1`, [sessionId])).rows;
  /** A paid session: the buyer approves on the page, the postback completes it. */
  const paidSession = async () => {
    const session = await createSession();
    const purchase = await emulator.completePurchase(session.url);
    const done = await completed(session.id);
    return { session, purchase, payment: await getPayment(api, sk, done.paymentId) };
  };

  it('hosted checkout: payment page → approval → postback confirmed by SRS → session complete, payment succeeded, ledger balanced', async () => {
    const session = await createSession();
    expect(session).toMatchObject({ status: 'open', provider: 'segpay', total: 2999, currency: 'USD', providerSessionId: session.id });
    const url = new URL(session.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${emulator.url}/billing/poset.cgi`);
    expect(url.searchParams.get('x-eticketid')).toBe('197001:26001');
    expect(url.searchParams.get('x-auth-link')).toBe('https://shop.example.com/success');
    expect(url.searchParams.get('x-decl-link')).toBe('https://shop.example.com/cancel');
    expect(url.searchParams.get('x-billemail')).toMatch(/@example\.com$/);
    expect(url.searchParams.get('paybridge_session')).toBe(session.id);
    expect(url.searchParams.get('paybridge_amount')).toBe('2999');

    const page = await fetch(session.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('29.99 USD');

    const purchase = await emulator.completePurchase(session.url);
    expect(purchase.redirectUrl).toBe('https://shop.example.com/success');
    expect(purchase.postback).toMatchObject({ status: 200 });
    const tranId = purchase.transaction.tranId;

    const done = await completed(session.id);
    const payment = await getPayment(api, sk, done.paymentId);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 2999, currency: 'USD', provider: 'segpay', providerRef: tranId });
    expect(payment.checkoutSessionId).toBe(session.id);
    // Confirmed through SRS, with the credentials in the query string.
    const lookups = srsLookups(tranId);
    expect(lookups.length).toBeGreaterThanOrEqual(1);
    expect(new URLSearchParams(lookups[0].query).get('UserID')).toBe('seg-user');
    expect(await settledEvent(tranId, 'processed')).toMatchObject({
      type: 'sale.approved',
      event_id: `${tranId}:Auth:Initial:Yes:29.99:USD`,
    });

    const ledger = await api.db.query('SELECT account, direction, amount FROM ledger_entries WHERE payment_id = $1 ORDER BY direction', [
      payment.id,
    ]);
    expect(ledger.rows).toEqual([
      { account: 'sales', direction: 'credit', amount: 2999 },
      { account: 'receivable:segpay', direction: 'debit', amount: 2999 },
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('a replayed postback is acknowledged as a duplicate and has no second effect', async () => {
    const { session, purchase, payment } = await paidSession();
    await settledEvent(purchase.transaction.tranId, 'processed');
    const ledgerBefore = await ledgerTotals(api, 'USD');

    const replay = await emulator.replayPostback(purchase.postback!.subjectId);
    const delivery = emulator.deliveries().find((d) => d.subjectId === replay.id);
    expect(delivery).toMatchObject({ status: 200 });
    expect(JSON.parse(delivery!.responseBody!)).toEqual({ received: true, duplicate: true });
    await drainWebhooks(api);
    expect(await ledgerTotals(api, 'USD')).toEqual(ledgerBefore);
    expect(await eventsFor(purchase.transaction.tranId)).toHaveLength(1);
    expect(await paymentsOfSession(session.id)).toEqual([{ id: payment.id, status: 'succeeded' }]);
  });

  it('a declined purchase fails the payment and leaves the session open; approving afterwards completes it with a new payment', async () => {
    const session = await createSession();
    const declined = await emulator.completePurchase(session.url, { approve: false });
    expect(declined.redirectUrl).toBe('https://shop.example.com/cancel');
    const failed = await eventually(async () => {
      const p = await getPayment(api, sk, session.paymentId);
      return p.status === 'failed' ? p : undefined;
    });
    expect(failed).toMatchObject({ failureCode: 'card_declined', declineCode: 'generic_decline', provider: 'segpay' });
    expect(srsLookups(declined.transaction.tranId).length).toBeGreaterThanOrEqual(1);
    expect((await getSession(session.id)).status).toBe('open');

    await emulator.completePurchase(session.url);
    const done = await completed(session.id);
    expect(done.paymentId).not.toBe(session.paymentId);
    expect(await getPayment(api, sk, done.paymentId)).toMatchObject({ status: 'succeeded', amount: 2999 });
  });

  it('a postback to a wrong token is refused with 403 and stores nothing; the same postback to the right URL completes the session', async () => {
    const session = await createSession();
    emulator.postbackUrl = `${api.url}/webhooks/segpay/not-the-token`;
    const purchase = await emulator.completePurchase(session.url);
    expect(purchase.postback).toMatchObject({ status: 403 });
    expect(JSON.parse(purchase.postback!.responseBody!).error.code).toBe('webhook_verification_failed');
    const noToken = await api
      .http()
      .post('/webhooks/segpay')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(emulator.postbacks().at(-1)!.body);
    expect(noToken.status).toBe(403);
    await drainWebhooks(api);
    expect(await eventsFor(purchase.transaction.tranId)).toEqual([]);
    expect((await getSession(session.id)).status).toBe('open');
    expect((await getPayment(api, sk, session.paymentId)).status).toBe('pending');

    emulator.postbackUrl = `${api.url}/webhooks/segpay/${TOKEN}`;
    await emulator.replayPostback(purchase.postback!.subjectId);
    await completed(session.id);
  });

  it('a postback from an address outside SEGPAY_POSTBACK_IPS is refused with 403 and stores nothing', async () => {
    const session = await createSession();
    emulator.postbackUrl = undefined; // record the postback without sending it
    const purchase = await emulator.completePurchase(session.url);
    const body = emulator.postbacks().at(-1)!.body;
    const post = (ip: string) =>
      api
        .http()
        .post(`/webhooks/segpay/${TOKEN}`)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .set('X-Forwarded-For', ip)
        .send(body);

    const outside = await post('198.51.100.7');
    expect(outside.status).toBe(403);
    expect(outside.body.error.code).toBe('webhook_verification_failed');
    await drainWebhooks(api);
    expect(await eventsFor(purchase.transaction.tranId)).toEqual([]);
    expect((await getSession(session.id)).status).toBe('open');

    const inRange = await post('10.20.30.40');
    expect(inRange.status).toBe(200);
    await completed(session.id);
  });

  it('forged postbacks that SRS does not confirm change nothing', async () => {
    const session = await createSession();
    const custom = Object.fromEntries([...new URL(session.url).searchParams].filter(([k]) => k.startsWith('paybridge_')));
    const ledgerBefore = await ledgerTotals(api, 'USD');

    // 1. An approved sale SRS has never heard of, carrying this session's (valid, signed) parameters.
    const unknown = await emulator.sendForgedPostback({ ...custom, eticketid: '197001:26001', price: '29.99' });
    // A sale SRS does not confirm moves no money and is kept for an admin (a dead letter), not ignored.
    expect(await settledEvent(unknown.fields.tranid, 'dead')).toMatchObject({ type: 'sale.approved' });
    expect(srsLookups(unknown.fields.tranid).map((r) => r.status)).toContain(404);

    // 2. A real transaction (another session's payment) at another price, pointed at this session.
    const other = await paidSession();
    const genuine = other.purchase.postback!.subjectId;
    const realFields = emulator.postbacks().find((p) => p.id === genuine)!.fields;
    const cheap = await emulator.sendForgedPostback({ ...realFields, ...custom, price: '0.99' });
    await eventually(async () =>
      (await eventsFor(cheap.fields.tranid)).find((e) => e.event_id.endsWith(':0.99:USD') && e.status === 'dead'),
    );

    // 3. The same real transaction, field for field, pointed at this session: one transaction, one
    //    event id, so it is a duplicate of the genuine postback and cannot pay a second session.
    const copy = await emulator.sendForgedPostback({ ...realFields, ...custom });
    const copyDelivery = emulator.deliveries().find((d) => d.subjectId === copy.id);
    expect(JSON.parse(copyDelivery!.responseBody!)).toEqual({ received: true, duplicate: true });

    await drainWebhooks(api);
    expect((await getSession(session.id)).status).toBe('open');
    expect((await getPayment(api, sk, session.paymentId)).status).toBe('pending');
    const after = await ledgerTotals(api, 'USD');
    expect(after.debits - ledgerBefore.debits).toBe(2999); // only the other session's genuine payment
  });

  it('a payment that is not what the checkout asked for (price point ≠ total, or a tampered link) completes nothing', async () => {
    // Two items: the session expects 59.98, but the configured price point charges 29.99.
    const res = await createCheckout(api, pk, checkoutBody(productId, { items: [{ productId, quantity: 2 }] }));
    const session = res.body;
    expect(session.total).toBe(5998);
    const mispriced = await emulator.completePurchase(session.url);
    expect(await settledEvent(mispriced.transaction.tranId, 'dead')).toMatchObject({ type: 'sale.approved' });

    // The buyer edits the link so that our expected amount matches the cheaper price: the signature breaks.
    const tampered = new URL(session.url);
    tampered.searchParams.set('paybridge_amount', '2999');
    const cheap = await emulator.completePurchase(tampered.toString());
    expect(await settledEvent(cheap.transaction.tranId, 'dead')).toMatchObject({ type: 'sale.approved' });

    expect((await getSession(session.id)).status).toBe('open');
    expect(await paymentsOfSession(session.id)).toEqual([{ id: session.paymentId, status: 'pending' }]);
  });

  it('SRS unavailable while confirming: the postback is retried, not lost', async () => {
    const session = await createSession();
    emulator.failNext(1, 503, 'any'); // the next SRS call (the confirmation lookup) fails
    const purchase = await emulator.completePurchase(session.url);
    expect(purchase.postback).toMatchObject({ status: 200 });
    await completed(session.id);
    const statuses = srsLookups(purchase.transaction.tranId).map((r) => r.status);
    expect(statuses[0]).toBe(503);
    expect(statuses).toContain(200);
  });
});
