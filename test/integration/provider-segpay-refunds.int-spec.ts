import { randomBytes } from 'node:crypto';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { ProviderRegistry } from '../../src/payments/providers/provider-registry';
import { SegpayEmulator } from '../emulators/segpay-emulator';
import {
  checkoutBody,
  createCheckout,
  createProduct,
  eventually,
  ledgerTotals,
  newKey,
  processBody,
  processPayment,
  refundPayment,
  runJob,
  getPayment,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/**
 * Segpay through our API against the Segpay emulator: hosted payment page, unsigned postbacks to
 * /webhooks/segpay/:token confirmed through SRS, refunds through SRS. USD is routed to Segpay.
 * This file: refunds, retrieve and direct charges; checkout and postbacks are in provider-segpay.int-spec.ts.
 */
describe('Segpay provider: SRS refunds, retrieve, direct charges', () => {
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
  /** A paid session: the buyer approves on the page, the postback completes it. */
  const paidSession = async () => {
    const session = await createSession();
    const purchase = await emulator.completePurchase(session.url);
    const done = await completed(session.id);
    return { session, purchase, payment: await getPayment(api, sk, done.paymentId) };
  };
  const refund = (paymentId: string, body: Record<string, unknown>, key = newKey()) => refundPayment(api, admin, paymentId, body, key);

  it('partial refunds reach SRS; a refund whose answer was lost is not sent twice', async () => {
    const { purchase, payment } = await paidSession();
    const tranId = purchase.transaction.tranId;
    const credits = () => emulator.transactions().filter((t) => t.type === 'credit' && t.relatedTranId === tranId);

    const first = await refund(payment.id, { amount: 1000, reason: 'requested_by_customer' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'succeeded', amount: 1000 });
    const segpay = api.app.get(ProviderRegistry).get('segpay');
    expect(await segpay.retrieveRefund({ providerRef: tranId, providerRefundId: first.body.providerRef })).toBe('succeeded');
    expect(await segpay.retrieveRefund({ providerRef: tranId, providerRefundId: 'not-reported-yet' })).toBe('pending');
    const refundCall = emulator.requestLog().find((r) => r.method === 'POST' && r.path === `/srs/transactions/${tranId}/refund`);
    expect(new URLSearchParams(refundCall!.query).get('Amount')).toBe('10.00');
    expect(emulator.transactions().find((t) => t.tranId === tranId)).toMatchObject({ refundedCents: 1000, status: 'partially_refunded' });

    // A second, separate refund of the same amount is a new refund, not a duplicate.
    expect((await refund(payment.id, { amount: 1000 })).status).toBe(201);
    expect(credits().map((c) => c.amountCents)).toEqual([1000, 1000]);

    // Segpay refunds, then the connection drops: the outcome is unknown, the refund stays pending.
    emulator.dropAfterChargeNext(1);
    const key = newKey();
    const lost = await refund(payment.id, { amount: 500 }, key);
    expect(lost.status).toBe(503);
    expect(lost.body.error.code).toBe('payment_outcome_unknown');
    expect(credits()).toHaveLength(3);
    // The retry finds Segpay's credit instead of refunding again.
    const retried = await refund(payment.id, { amount: 500 }, key);
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ status: 'succeeded', amount: 500 });
    expect(credits().map((c) => c.amountCents)).toEqual([1000, 1000, 500]);
    expect(emulator.transactions().find((t) => t.tranId === tranId)!.refundedCents).toBe(2500);
    expect(await getPayment(api, sk, payment.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 2500 });

    // More than what is left: refused by our books before Segpay is asked.
    const tooMuch = await refund(payment.id, { amount: 600 });
    expect(tooMuch.status).toBe(422);
    expect(credits()).toHaveLength(3);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('refund keys are kept in the database: another instance neither credits a lost refund twice nor takes a separate refund for it', async () => {
    const { purchase, payment } = await paidSession();
    const tranId = purchase.transaction.tranId;
    const credits = () => emulator.transactions().filter((t) => t.type === 'credit' && t.relatedTranId === tranId);
    const other = await startTestApp(dbUrl, env());
    try {
      const otherAdmin = await other.key('admin');
      // Instance A sends a refund, Segpay credits it and the answer is lost.
      emulator.dropAfterChargeNext(1);
      const key = newKey();
      expect((await refund(payment.id, { amount: 800 }, key)).status).toBe(503);
      expect(credits().map((c) => c.amountCents)).toEqual([800]);
      // The retry lands on instance B: it finds the claim and Segpay's credit, and sends nothing.
      const retried = await refundPayment(other, otherAdmin, payment.id, { amount: 800 }, key);
      expect(retried.status).toBe(201);
      expect(retried.body).toMatchObject({ status: 'succeeded', amount: 800 });
      expect(credits().map((c) => c.amountCents)).toEqual([800]);
      const claims = await api.db.query(`SELECT refund_key, credit_tran_id FROM segpay_refund_claims WHERE sale_tran_id = $1`, [tranId]);
      expect(claims.rows).toEqual([{ refund_key: expect.any(String), credit_tran_id: credits()[0].tranId }]);

      // A separate refund of the same amount on instance B is a new credit: B knows the first credit is A's key's.
      const separate = await refundPayment(other, otherAdmin, payment.id, { amount: 800 }, newKey());
      expect(separate.status).toBe(201);
      expect(credits().map((c) => c.amountCents)).toEqual([800, 800]);
      expect(separate.body.providerRef).not.toBe(retried.body.providerRef);
      expect(emulator.transactions().find((t) => t.tranId === tranId)!.refundedCents).toBe(1600);
      expect(await getPayment(api, sk, payment.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1600 });
    } finally {
      await other.close();
    }
  });

  it("a refund made in Segpay's merchant portal is recorded and booked from its postback, once", async () => {
    const { purchase, payment } = await paidSession();
    const tranId = purchase.transaction.tranId;
    const ours = await refund(payment.id, { amount: 1000 });
    expect(ours.body).toMatchObject({ status: 'succeeded', origin: 'api' });
    // The merchant refunds 7.00 more in the portal (SRS, outside Paybridge); Segpay posts the credit back.
    const query = new URLSearchParams({ MerchantID: 'seg-merchant', UserID: 'seg-user', UserAccessKey: 'seg-key', Amount: '7.00' });
    expect((await fetch(`${emulator.url}/srs/transactions/${tranId}/refund?${query}`, { method: 'POST' })).status).toBe(200);
    await eventually(async () => (await getPayment(api, sk, payment.id)).amountRefunded === 1700);
    // Every credit postback processed (ours included: it adds nothing), and still 1700.
    await eventually(
      async () =>
        (await api.db.query(`SELECT 1 FROM payment_webhook_events WHERE provider = 'segpay' AND status = 'pending'`)).rows.length === 0,
    );
    expect(await getPayment(api, sk, payment.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1700 });
    // Segpay sends the portal's credit postback again: acknowledged as a duplicate, nothing more booked.
    const resent = await emulator.replayPostback(emulator.postbacks().at(-1)!.id);
    expect(emulator.deliveries().find((d) => d.subjectId === resent.id)).toMatchObject({ status: 200 });
    expect(await getPayment(api, sk, payment.id)).toMatchObject({ amountRefunded: 1700 });
    const recorded = await api.db.query(`SELECT amount, status, origin FROM refunds WHERE payment_id = $1 ORDER BY created_at`, [
      payment.id,
    ]);
    expect(recorded.rows).toEqual([
      { amount: 1000, status: 'succeeded', origin: 'api' },
      { amount: 700, status: 'succeeded', origin: 'provider' },
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('the recovery job settles a refund left pending, but not while its request still holds the key', async () => {
    const { purchase, payment } = await paidSession();
    const credits = () => emulator.transactions().filter((t) => t.type === 'credit' && t.relatedTranId === purchase.transaction.tranId);
    emulator.dropAfterChargeNext(1); // Segpay refunds, the answer is lost: pending
    const key = newKey();
    expect((await refund(payment.id, { amount: 700 }, key)).status).toBe(503);
    const pending = async () =>
      (await api.db.query(`SELECT status FROM refunds WHERE payment_id = $1 AND amount = 700`, [payment.id])).rows[0].status;
    expect(await pending()).toBe('pending');
    await api.db.query(`UPDATE refunds SET updated_at = now() - interval '1 hour' WHERE payment_id = $1`, [payment.id]);

    // A live request (the key locked a moment ago) is left to settle it itself.
    await api.db.query(`UPDATE idempotency_keys SET lock_token = gen_random_uuid(), locked_at = now() WHERE key = $1`, [key]);
    await runJob(() => api.app.get(PaymentJobs).recover());
    expect(await pending()).toBe('pending');

    // Its lock went stale (the process died): the job asks Segpay and books the credit it finds, once.
    await api.db.query(`UPDATE idempotency_keys SET locked_at = now() - interval '1 hour' WHERE key = $1`, [key]);
    await runJob(() => api.app.get(PaymentJobs).recover());
    expect(await pending()).toBe('succeeded');
    expect(credits().map((c) => c.amountCents)).toEqual([700]);
  });

  it('retrieve reads the transaction from SRS; an unknown one is null', async () => {
    const { purchase } = await paidSession();
    const segpay = api.app.get(ProviderRegistry).get('segpay');
    await expect(segpay.retrieve({ providerRef: purchase.transaction.tranId, idempotencyKey: 'unused' })).resolves.toEqual({
      providerRef: purchase.transaction.tranId,
      status: 'succeeded',
      amount: 2999,
      currency: 'USD',
      amountRefunded: 0,
      declineCode: undefined,
    });
    await expect(segpay.retrieve({ providerRef: '999999999', idempotencyKey: 'unused' })).resolves.toBeNull();
    await expect(segpay.retrieve({ providerRef: null, idempotencyKey: 'unused' })).resolves.toBeNull();
  });

  it('a direct charge is refused: Segpay takes payments only on its hosted page', async () => {
    const res = await processPayment(
      api,
      sk,
      processBody(productId, 'tok_anything', { paymentMethod: { provider: 'segpay', token: 'tok_anything' } }),
    );
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ type: 'card_error', declineCode: 'not_supported' });
    expect(emulator.requestLog().filter((r) => r.path.startsWith('/billing') && r.method === 'POST')).toHaveLength(0);
  });
});
