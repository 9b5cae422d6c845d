import { randomBytes } from 'node:crypto';
import { SegpayEmulator } from '../emulators/segpay-emulator';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

/** Segpay chargeback postbacks (Void/charge), confirmed through SRS: a dispute lost at once. */
describe('disputes at Segpay (chargeback postbacks confirmed by SRS, real PostgreSQL)', () => {
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
    emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 29.99, description: 'Test product' });
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      PROVIDER_ROUTING: 'USD=segpay;*=simulator',
      SEGPAY_MERCHANT_ID: 'seg-merchant',
      SEGPAY_USER_ID: 'seg-user',
      SEGPAY_API_KEY: 'seg-key',
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

  it('a chargeback: the dispute recorded lost, the withdrawal booked once (even posted back twice), created and closed events', async () => {
    const created = await createCheckout(api, pk, checkoutBody(productId, { items: [{ productId, quantity: 1 }] }));
    expect(created.status).toBe(201);
    const purchase = await emulator.completePurchase(created.body.url);
    const session = await eventually(async () => {
      const s = (await api.http().get(`/payments/checkout/${created.body.id}`).set('X-Api-Key', pk)).body;
      return s.status === 'complete' ? s : undefined;
    });
    const payment = await getPayment(api, sk, session.paymentId);

    const charge = await emulator.chargeback(purchase.transaction.tranId);
    await drainWebhooks(api);
    await emulator.replayPostback(emulator.postbacks().at(-1)!.id);
    await drainWebhooks(api);

    const list = await api.http().get('/disputes').query({ paymentId: payment.id }).set('X-Api-Key', sk);
    expect(list.body.data).toEqual([
      expect.objectContaining({ provider: 'segpay', providerRef: charge.tranId, amount: 2999, currency: 'USD', status: 'lost' }),
    ]);
    const { rows } = await api.db.query<{ kind: string; n: number }>(
      `SELECT kind, count(*)::int AS n FROM ledger_entries WHERE payment_id = $1 AND kind LIKE 'dispute%' GROUP BY kind`,
      [payment.id],
    );
    expect(rows).toEqual([{ kind: 'dispute_withdrawal', n: 2 }]);
    const events = await api.http().get('/events').query({ limit: 100 }).set('X-Api-Key', sk);
    const types = (events.body.data as Array<{ type: string; data: { paymentId?: string } }>)
      .filter((e) => e.data.paymentId === payment.id && e.type.startsWith('dispute.'))
      .map((e) => e.type)
      .sort();
    expect(types).toEqual(['dispute.closed', 'dispute.created']);
    const balance = await api.http().get('/admin/ledger/balance').query({ currency: 'USD' }).set('X-Api-Key', admin);
    expect(balance.body.balanced).toBe(true);
  });
});
