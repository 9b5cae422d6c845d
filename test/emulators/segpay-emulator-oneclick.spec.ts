import { SegpayEmulator } from './segpay-emulator';
import { WebhookReceiver } from './webhook-receiver';

const CREDENTIALS = { MerchantID: 'm-1', UserID: 'u-1', UserAccessKey: 'k-1' };

/** One-click sales, the cards Segpay keeps on purchases, and rebills that decline with the card, over plain HTTP. */
describe('SegpayEmulator one-click sales and rebills', () => {
  const emulator = new SegpayEmulator({ merchantId: 'm-1', userId: 'u-1', userAccessKey: 'k-1' });
  const receiver = new WebhookReceiver();
  let oneOff: string;
  let monthly: string;

  beforeAll(async () => {
    await emulator.start();
    emulator.postbackUrl = await receiver.start('/webhooks/segpay');
    oneOff = emulator.addPricePoint({ packageId: '1', pricePointId: '10', initialPrice: 5 });
    monthly = emulator.addPricePoint({ packageId: '1', pricePointId: '20', initialPrice: 9.99, recurringPrice: 9.99, recurringDays: 30 });
  });
  afterAll(async () => {
    await emulator.stop();
    await receiver.stop();
  });

  const srs = async (method: string, path: string, params: Record<string, string> = {}) => {
    const url = new URL(path, emulator.url);
    for (const [k, v] of Object.entries({ ...CREDENTIALS, ...params })) url.searchParams.set(k, v);
    const res = await fetch(url, { method });
    type Srs = {
      result?: string;
      replayed?: boolean;
      membership?: unknown;
      transaction: { tranId: string; purchaseId: string };
      transactions: { tranId: string }[];
    };
    return { status: res.status, body: (await res.json()) as Srs };
  };
  const purchase = async (email = 'buyer@example.com') =>
    String(
      (await emulator.completePurchase(emulator.paymentPageUrl({ eticketId: monthly, prefill: { 'x-billemail': email } }))).membership
        ?.purchaseId,
    );
  const oneClick = (params: Record<string, string>) =>
    srs('POST', '/srs/oneclick', { EticketID: oneOff, Amount: '12.50', CurrencyCode: 'USD', RefID: `ref-${Math.random()}`, ...params });

  it('the membership lookup shows the billing email and the card kept for the purchase', async () => {
    const purchaseId = await purchase('kept@example.com');
    const { body } = await srs('GET', `/srs/memberships/${purchaseId}`);
    expect(body.membership).toMatchObject({ billEmail: 'kept@example.com', card: { brand: 'visa', last4: '1111', expMonth: 12 } });
  });

  it('a one-click sale charges the kept card at the amount asked, as a new one-off purchase, with an Initial postback echoing custom fields', async () => {
    const purchaseId = await purchase();
    const { status, body } = await oneClick({ OCToken: purchaseId, RefID: 'mer:pay_1:key-1', note: 'x' });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      result: 'Successful',
      replayed: false,
      transaction: { amount: '12.50', stage: 'Initial', approved: true, refId: 'mer:pay_1:key-1' },
    });
    expect(body.transaction.purchaseId).not.toBe(purchaseId);
    const postback = await receiver.waitFor((r) => r.body.includes(`tranid=${body.transaction.tranId}`));
    expect(Object.fromEntries(new URLSearchParams(postback.body))).toMatchObject({
      stage: 'Initial',
      approved: 'Yes',
      price: '12.50',
      note: 'x',
    });
    // The same RefID answers the same sale; with another amount it is refused.
    const again = await oneClick({ OCToken: purchaseId, RefID: 'mer:pay_1:key-1' });
    expect(again.body).toMatchObject({ replayed: true, transaction: { tranId: body.transaction.tranId } });
    expect((await oneClick({ OCToken: purchaseId, RefID: 'mer:pay_1:key-1', Amount: '13.00' })).status).toBe(409);
    const found = await srs('GET', '/srs/transactions', { StartDate: '2000-01-01', EndDate: '2999-01-01', RefID: 'mer:pay_1:key-1' });
    expect(found.body.transactions.map((t: { tranId: string }) => t.tranId)).toEqual([body.transaction.tranId]);
  });

  it('a one-click sale on a recurring price point starts a membership of its own, which rebills (Conversion, then Rebill)', async () => {
    const purchaseId = await purchase();
    const { body } = await oneClick({ OCToken: purchaseId, EticketID: monthly, Amount: '7.00' });
    const started = body.transaction.purchaseId;
    const { body: lookup } = await srs('GET', `/srs/memberships/${started}`);
    expect(lookup.membership).toMatchObject({
      eticketId: monthly,
      recurring: true,
      status: 'active',
      initialTranId: body.transaction.tranId,
    });
    const first = await emulator.rebill(started);
    const second = await emulator.rebill(started);
    expect([first, second].map((t) => [t.stage, t.purchaseId, t.amountCents])).toEqual([
      ['Conversion', started, 999],
      ['Rebill', started, 999],
    ]);
    // A one-click sale on a one-off price point starts nothing to rebill.
    const { body: oneOffSale } = await oneClick({ OCToken: purchaseId });
    await expect(emulator.rebill(oneOffSale.transaction.purchaseId)).rejects.toThrow(/not an active recurring membership/);
  });

  it('is strict: unknown purchase 404, charged-back purchase 409, unknown eticket or other currency 400, no RefID 400', async () => {
    expect((await oneClick({ OCToken: '123' })).status).toBe(404);
    const purchaseId = await purchase();
    expect((await oneClick({ OCToken: purchaseId, EticketID: '9:9' })).status).toBe(400);
    expect((await oneClick({ OCToken: purchaseId, CurrencyCode: 'EUR' })).status).toBe(400);
    expect((await oneClick({ OCToken: purchaseId, RefID: '' })).status).toBe(400);
    expect((await oneClick({ OCToken: purchaseId, Amount: '1.234' })).status).toBe(400);
    const sale = emulator.transactions().find((t) => t.purchaseId === purchaseId);
    await emulator.chargeback(String(sale?.tranId));
    expect((await oneClick({ OCToken: purchaseId })).status).toBe(409);
  });

  it('a card set to decline: one-click sales and rebills are declined (and approved again once it is cleared)', async () => {
    const purchaseId = await purchase();
    const set = await fetch(new URL(`/_emulator/memberships/${purchaseId}/card`, emulator.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ declines: 'true' }),
    });
    expect(set.status).toBe(200);
    expect((await oneClick({ OCToken: purchaseId })).body).toMatchObject({
      result: 'Declined',
      transaction: { approved: false, status: 'declined' },
    });
    await expect(emulator.rebill(purchaseId)).resolves.toMatchObject({ approved: false, stage: 'Conversion' });
    emulator.setCardDeclines(purchaseId, false);
    await expect(emulator.rebill(purchaseId)).resolves.toMatchObject({ approved: true, stage: 'Conversion' });
    await expect(emulator.rebill(purchaseId)).resolves.toMatchObject({ approved: true, stage: 'Rebill' });
  });
});
