import { randomBytes } from 'node:crypto';
import {
  PaymentProvider,
  ProviderDeclineError,
  SaveMethodInput,
  WebhookRequest,
  WebhookVerificationError,
} from '../../src/payments/providers/payment-provider';
import { ProviderRegistry } from '../../src/payments/providers/provider-registry';
import { SegpayEmulator } from '../emulators/segpay-emulator';
import { eventually, newKey, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/**
 * Segpay saved methods: a purchase id kept for one-click sales, checked through SRS, charged by a
 * one-click sale; and rebill postbacks confirmed through SRS. The app's real SegpayProvider (no mocks)
 * against the Segpay emulator.
 */
describe('Segpay saved methods (one-click sales on a purchase id) and rebill postbacks', () => {
  const TOKEN = `pbk_${randomBytes(12).toString('hex')}`;
  const emulator = new SegpayEmulator({ merchantId: 'seg-merchant', userId: 'seg-user', userAccessKey: 'seg-key' });
  let dbUrl: string;
  let api: TestApp;
  let segpay: PaymentProvider;

  beforeAll(async () => {
    await emulator.start();
    emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 29.99, description: 'One-off' });
    emulator.addPricePoint({ packageId: '197002', pricePointId: '26002', initialPrice: 9.99, recurringPrice: 9.99, recurringDays: 30 });
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
      SEGPAY_POSTBACK_IPS: '127.0.0.1',
      PROVIDER_TIMEOUT_MS: '2000',
    });
    emulator.postbackUrl = `${api.url}/webhooks/segpay/${TOKEN}`;
    segpay = api.app.get(ProviderRegistry).get('segpay');
  });
  afterAll(async () => {
    await emulator.idle();
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  /** A buyer's purchase on the payment page (the recurring price point), as Segpay records it. */
  const purchase = async (email: string, eticketId = '197002:26002') => {
    const result = await emulator.completePurchase(emulator.paymentPageUrl({ eticketId, prefill: { 'x-billemail': email } }));
    return String(result.membership?.purchaseId);
  };
  const save = (purchaseId: string, email: string) => {
    const input: SaveMethodInput = {
      merchantId: 'mer_default',
      customer: { id: 'cus_seg', email },
      providerCustomerRef: null,
      token: purchaseId,
      idempotencyKey: newKey(),
    };
    return segpay.saveMethod!(input);
  };
  const chargeSaved = (purchaseId: string, amount = 1500, key = newKey()) =>
    segpay.charge({
      merchantId: 'mer_default',
      reference: `pay_${key.slice(0, 8)}`,
      amount,
      currency: 'USD',
      token: purchaseId,
      saved: { providerCustomerRef: purchaseId, providerMethodRef: purchaseId },
      customer: { email: 'x@example.com' },
      idempotencyKey: key,
    });
  const declineOf = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected a decline');
      },
      (err: unknown) => err as ProviderDeclineError,
    );

  it('saves a purchase id SRS shows as this customer’s, with the card Segpay keeps', async () => {
    const email = uniqueEmail();
    const purchaseId = await purchase(email);
    await expect(save(purchaseId, email.toUpperCase())).resolves.toEqual({
      providerCustomerRef: purchaseId,
      providerMethodRef: purchaseId,
      brand: 'visa',
      last4: '1111',
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 3,
    });
  });

  it('refuses a purchase id that is unknown, another customer’s, or charged back', async () => {
    const email = uniqueEmail();
    expect((await declineOf(save('99999999', email))).declineCode).toBe('invalid_payment_method');
    const theirs = await purchase(uniqueEmail());
    expect((await declineOf(save(theirs, email))).declineCode).toBe('invalid_payment_method');
    const disputed = await purchase(email);
    const sale = emulator.transactions().find((t) => t.purchaseId === disputed && t.type === 'sale');
    await emulator.chargeback(String(sale?.tranId));
    expect((await declineOf(save(disputed, email))).declineCode).toBe('invalid_payment_method');
  });

  it('charges a saved purchase by a one-click sale at our amount; a retry with the same key charges once', async () => {
    const email = uniqueEmail();
    const purchaseId = await purchase(email);
    const key = newKey();
    const payment = await chargeSaved(purchaseId, 1500, key);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 1500, currency: 'USD' });
    const sale = emulator.transactions().find((t) => t.tranId === payment.providerRef);
    expect(sale).toMatchObject({
      type: 'sale',
      stage: 'Initial',
      approved: true,
      oneClickOf: purchaseId,
      refId: `mer_default:pay_${key.slice(0, 8)}:${key}`,
      eticketId: '197001:26001',
    });

    const again = await chargeSaved(purchaseId, 1500, key);
    expect(again.providerRef).toBe(payment.providerRef);
    expect(emulator.transactions().filter((t) => t.refId?.endsWith(key))).toHaveLength(1);
    // A lost answer is found again by our key (its RefID).
    await expect(segpay.retrieve({ idempotencyKey: key })).resolves.toMatchObject({
      providerRef: payment.providerRef,
      status: 'succeeded',
    });
    await expect(segpay.retrieve({ idempotencyKey: newKey() })).resolves.toBeNull();
  });

  it('a card that now declines: the one-click sale is a decline error, and so is the next rebill', async () => {
    const email = uniqueEmail();
    const purchaseId = await purchase(email);
    await save(purchaseId, email);
    emulator.setCardDeclines(purchaseId);
    const err = await declineOf(chargeSaved(purchaseId));
    expect(err).toBeInstanceOf(ProviderDeclineError);
    expect(err.declineCode).toBe('generic_decline');
    expect(err.providerRef).toBeDefined();
    const rebill = await emulator.rebill(purchaseId);
    expect(rebill).toMatchObject({ approved: false, stage: 'Conversion' });
  });

  it('a purchase Segpay refuses for one-click (charged back since it was saved) is invalid_payment_method', async () => {
    const email = uniqueEmail();
    const purchaseId = await purchase(email);
    await save(purchaseId, email);
    const sale = emulator.transactions().find((t) => t.purchaseId === purchaseId && t.type === 'sale');
    await emulator.chargeback(String(sale?.tranId));
    expect((await declineOf(chargeSaved(purchaseId))).declineCode).toBe('invalid_payment_method');
  });

  /** A postback the emulator sent, as our webhook route hands it to the adapter. */
  const received = (tranId: string): WebhookRequest => {
    const postback = emulator.postbacks().find((p) => p.fields.tranid === tranId);
    if (!postback) throw new Error(`no postback for ${tranId}`);
    return { rawBody: Buffer.from(postback.body), ip: '127.0.0.1', headers: {}, query: {}, params: { token: TOKEN } };
  };
  const confirmed = async (request: WebhookRequest) => segpay.confirmEvent!(await segpay.parseWebhook(request));

  it('rebill postbacks, approved and declined, are confirmed through SRS; a forged one is not', async () => {
    const email = uniqueEmail();
    const purchaseId = await purchase(email);
    const approved = await emulator.rebill(purchaseId);
    emulator.setCardDeclines(purchaseId);
    const declined = await emulator.rebill(purchaseId);
    await expect(confirmed(received(approved.tranId))).resolves.toMatchObject({
      type: 'rebill.approved',
      providerRef: approved.tranId,
      amount: 999,
      currency: 'USD',
    });
    await expect(confirmed(received(declined.tranId))).resolves.toMatchObject({ type: 'rebill.declined', declineCode: 'generic_decline' });
    const forged = await emulator.sendForgedPostback({ stage: 'Rebill', purchaseid: purchaseId, eticketid: '197002:26002', price: '9.99' });
    await expect(confirmed(received(forged.fields.tranid))).rejects.toBeInstanceOf(WebhookVerificationError);
  });

  it('the postback of a one-click sale is confirmed as a direct charge of the merchant and payment in its RefID (never a checkout)', async () => {
    const email = uniqueEmail();
    const purchaseId = await purchase(email);
    const key = newKey();
    const payment = await chargeSaved(purchaseId, 2100, key);
    await expect(confirmed(received(payment.providerRef))).resolves.toMatchObject({
      kind: 'payment.succeeded',
      merchantId: 'mer_default',
      reference: `pay_${key.slice(0, 8)}`,
      providerRef: payment.providerRef,
      amount: 2100,
    });
    // A forged one (marked one-click, a sale SRS does not show as ours) is not confirmed.
    const forged = await emulator.sendForgedPostback({ paybridge_oneclick: '1', paybridge_merchant: 'mer_default' });
    await expect(confirmed(received(forged.fields.tranid))).rejects.toBeInstanceOf(WebhookVerificationError);
    // Through the webhook pipeline it is matched as a direct charge (no checkout claim asked for). This
    // test made no payment row, so the money it reports is held for an admin, as any unmatched charge.
    const row = await eventually(async () => {
      const rows = (
        await api.db.query(`SELECT status, last_error FROM payment_webhook_events WHERE provider = 'segpay' AND payload::text LIKE $1`, [
          `%${payment.providerRef}%`,
        ])
      ).rows;
      return rows.find((r) => r.status !== 'pending');
    });
    expect(row.last_error).toContain('reports a succeeded payment');
    expect(row.last_error).not.toContain('checkout');
  });
});
