import { randomBytes } from 'node:crypto';
import { SegpayEmulator } from '../emulators/segpay-emulator';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment } from '../factories/payments';
import { dbNow, discrepancies, ledgerBalanced, reconcile, strayChargeSuspense } from '../factories/reconciliation';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const SRS = { MerchantID: 'seg-merchant', UserID: 'seg-user', UserAccessKey: 'seg-key' };

/** Reconciliation against Segpay: its SRS transactions report (paged, by date) from the Segpay emulator, real PostgreSQL. */
describe('reconciliation against Segpay (SRS transactions report from its emulator, real PostgreSQL)', () => {
  const TOKEN = `pbk_${randomBytes(12).toString('hex')}`;
  const emulator = new SegpayEmulator({ merchantId: SRS.MerchantID, userId: SRS.UserID, userAccessKey: SRS.UserAccessKey });
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    await emulator.start();
    emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 29.99, description: 'Test product' });
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      PROVIDER_ROUTING: 'USD=segpay;*=simulator',
      SEGPAY_MERCHANT_ID: SRS.MerchantID,
      SEGPAY_USER_ID: SRS.UserID,
      SEGPAY_API_KEY: SRS.UserAccessKey,
      SEGPAY_PACKAGE_ID: '197001',
      SEGPAY_PRICE_POINT_ID: '26001',
      SEGPAY_PAYMENT_PAGE_BASE: emulator.url,
      SEGPAY_API_BASE: emulator.url,
      SEGPAY_POSTBACK_TOKEN: TOKEN,
      PROVIDER_TIMEOUT_MS: '2000',
    });
    emulator.postbackUrl = `${api.url}/webhooks/segpay/${TOKEN}`;
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  /** Whatever happens at Segpay inside `fn` sends no postback to Paybridge. */
  const postbacksLost = async <T>(fn: () => Promise<T>): Promise<T> => {
    const url = emulator.postbackUrl;
    emulator.postbackUrl = undefined;
    try {
      return await fn();
    } finally {
      emulator.postbackUrl = url;
    }
  };
  /** A hosted checkout at Segpay; paid on its page (the postback completes it unless lost). */
  const paidSession = async () => {
    const session = (await createCheckout(api, pk, checkoutBody(productId, { items: [{ productId, quantity: 1 }] }))).body;
    const purchase = await emulator.completePurchase(session.url);
    const done = await eventually(async () => {
      const s = (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', pk)).body;
      return s.status === 'complete' && s;
    });
    await drainWebhooks(api);
    return { sessionId: session.id as string, paymentId: done.paymentId as string, tranId: purchase.transaction.tranId };
  };
  /** Segpay's refund service, as its merchant back office calls it. */
  const refundAtSegpay = async (tranId: string, amount: string) => {
    const url = new URL(`${emulator.url}/srs/transactions/${tranId}/refund`);
    for (const [k, v] of Object.entries({ ...SRS, Amount: amount })) url.searchParams.set(k, v);
    expect((await fetch(url, { method: 'POST' })).status).toBe(200);
  };

  let cleanTo: Date;

  it('a clean day yields zero discrepancies', async () => {
    const from = await dbNow(api);
    await paidSession();
    await paidSession();
    cleanTo = await dbNow(api);
    const run = await reconcile(api, admin, 'segpay', from, cleanTo);
    expect(run).toMatchObject({ status: 'completed', provider: 'segpay', counts: { checked: 2, matched: 2, discrepancies: 0, healed: 0 } });
  });

  it('finds a lost success postback and a lost refund postback (both healed), a chargeback never posted back, a sale no payment accounts for (suspense) and a payment Segpay does not know; a second run finds nothing new', async () => {
    const from = cleanTo;
    await paidSession(); // one that matches
    const refunded = await paidSession();
    await postbacksLost(() => refundAtSegpay(refunded.tranId, '10.00'));
    const disputed = await paidSession();
    const chargeback = await postbacksLost(() => emulator.chargeback(disputed.tranId));
    // A purchase on Segpay's page without our signed checkout parameters.
    const stray = await postbacksLost(() => emulator.completePurchase(`${emulator.url}/billing/poset.cgi?x-eticketid=197001:26001`));
    // A lost success postback: paid on Segpay's page, the session still open here.
    const open = (await createCheckout(api, pk, checkoutBody(productId, { items: [{ productId, quantity: 1 }] }))).body;
    const paidThere = await postbacksLost(() => emulator.completePurchase(open.url));
    const unknown = await paidSession();
    emulator.forgetTransaction(unknown.tranId);
    const to = await dbNow(api);

    const run = await reconcile(api, admin, 'segpay', from, to);
    const found = await discrepancies(api, admin, `runId=${run.id}`);
    expect(run).toMatchObject({ status: 'completed', counts: { discrepancies: 5, healed: 2 } });
    const byKind = Object.fromEntries(found.map((d) => [d.kind, d]));
    expect(Object.keys(byKind).sort()).toEqual([
      'dispute_unrecorded',
      'missing_at_provider',
      'missing_locally',
      'refund_mismatch',
      'status_mismatch',
    ]);
    // The lost success postback healed as the postback would have: the session complete, its payment succeeded.
    expect(byKind.status_mismatch).toMatchObject({
      status: 'healed',
      providerRef: paidThere.transaction.tranId,
      expected: { status: 'pending' },
    });
    const session = (await api.http().get(`/payments/checkout/${open.id}`).set('X-Api-Key', pk)).body;
    expect(session).toMatchObject({ status: 'complete', paymentId: byKind.status_mismatch.paymentId });
    expect(await getPayment(api, sk, session.paymentId)).toMatchObject({ status: 'succeeded', providerRef: paidThere.transaction.tranId });
    expect(byKind.refund_mismatch).toMatchObject({ status: 'healed', paymentId: refunded.paymentId, actual: { amountRefunded: 1000 } });
    expect(await getPayment(api, sk, refunded.paymentId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });
    expect(byKind.dispute_unrecorded).toMatchObject({
      status: 'open',
      paymentId: disputed.paymentId,
      providerRef: chargeback.tranId,
      actual: { chargeRef: disputed.tranId, status: 'lost', amount: 2999 },
    });
    expect(byKind.missing_locally).toMatchObject({
      status: 'open',
      paymentId: null,
      providerRef: stray.transaction.tranId,
      actual: { amount: 2999 },
    });
    expect(await strayChargeSuspense(api, byKind.missing_locally.id)).toEqual([{ direction: 'credit', amount: 2999, currency: 'USD' }]);
    expect(byKind.missing_at_provider).toMatchObject({ status: 'open', paymentId: unknown.paymentId, providerRef: unknown.tranId });
    expect(await ledgerBalanced(api, admin, 'USD')).toBe(true);

    const again = await reconcile(api, admin, 'segpay', from, to);
    expect(again).toMatchObject({ status: 'completed', counts: { discrepancies: 0, healed: 0 } });
    expect(await strayChargeSuspense(api, byKind.missing_locally.id)).toHaveLength(1);
  });
});
