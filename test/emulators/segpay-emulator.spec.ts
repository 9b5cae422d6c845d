import { SegpayEmulator } from './segpay-emulator';
import { ReceivedRequest, WebhookReceiver } from './webhook-receiver';

const CREDENTIALS = { MerchantID: 'm-1', UserID: 'u-1', UserAccessKey: 'k-1' };

describe('SegpayEmulator over plain HTTP', () => {
  const emulator = new SegpayEmulator({ merchantId: 'm-1', userId: 'u-1', userAccessKey: 'k-1' });
  const receiver = new WebhookReceiver();
  let oneTime: string;
  let monthly: string;
  const startedAt = new Date(Date.now() - 1000);

  beforeAll(async () => {
    await emulator.start();
    emulator.postbackUrl = await receiver.start('/webhooks/segpay?token=secret-url-token');
    oneTime = emulator.addPricePoint({ packageId: '197001', pricePointId: '26001', initialPrice: 19.95, description: 'Gift card' });
    monthly = emulator.addPricePoint({
      packageId: '197001',
      pricePointId: '26002',
      initialPrice: 39.99,
      recurringPrice: 39.99,
      recurringDays: 30,
      description: 'Gold',
    });
  });

  afterAll(async () => {
    await emulator.stop();
    await receiver.stop();
  });

  afterEach(() => {
    emulator.clearFaults();
  });

  function srs(
    path: string,
    params: Record<string, string> = {},
    method = 'GET',
    credentials: Record<string, string> = CREDENTIALS,
  ): Promise<Response> {
    const url = new URL(path, emulator.url);
    for (const [k, v] of Object.entries({ ...credentials, ...params })) url.searchParams.set(k, v);
    return fetch(url, { method });
  }

  function fields(request: ReceivedRequest): Record<string, string> {
    return Object.fromEntries(new URLSearchParams(request.body));
  }

  function postbackFor(predicate: (f: Record<string, string>) => boolean): Promise<Record<string, string>> {
    return receiver.waitFor((r) => predicate(fields(r))).then(fields);
  }

  /** Opens the payment page and presses one of its buttons, as a browser would. */
  async function clickThrough(pageUrl: string, button: 'Approve' | 'Decline'): Promise<Response> {
    const page = await fetch(pageUrl);
    expect(page.status).toBe(200);
    const markup = await page.text();
    const forms = [
      ...markup.matchAll(/<form method="post" action="([^"]+)"><input type="hidden" name="outcome" value="(\w+)"><button>(\w+)<\/button>/g),
    ];
    const form = forms.find((f) => f[3] === button);
    if (!form) throw new Error(`no ${button} button on the page`);
    const action = form[1].replace(/&amp;/g, '&');
    return fetch(new URL(action, emulator.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `outcome=${form[2]}`,
      redirect: 'manual',
    });
  }

  it('approves on the payment page: postback with custom parameters echoed, then redirect to x-auth-link; SRS confirms it', async () => {
    const pageUrl = emulator.paymentPageUrl({
      eticketId: oneTime,
      authLink: 'https://shop.example/segpay/ok?s=abc',
      declLink: 'https://shop.example/segpay/declined',
      prefill: { 'x-billemail': 'buyer@example.com', 'x-billname': 'Ada Buyer' },
      custom: { paybridge_session: 'pbs_approve' },
    });
    expect(pageUrl).toContain('/billing/poset.cgi?x-eticketid=197001%3A26001');
    const response = await clickThrough(pageUrl, 'Approve');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('https://shop.example/segpay/ok?s=abc');

    const postback = await postbackFor((f) => f.paybridge_session === 'pbs_approve');
    expect(postback).toMatchObject({
      action: 'Auth',
      stage: 'Initial',
      approved: 'Yes',
      trantype: 'sale',
      price: '19.95',
      currencycode: 'USD',
      eticketid: '197001:26001',
      billemail: 'buyer@example.com',
      billname: 'Ada Buyer',
    });
    expect(postback.tranid).toMatch(/^\d+$/);
    expect(postback.purchaseid).toMatch(/^\d+$/);
    const delivered = receiver.received.find((r) => fields(r).tranid === postback.tranid);
    expect(delivered?.method).toBe('POST');
    expect(delivered?.url).toBe('/webhooks/segpay?token=secret-url-token');
    expect(delivered?.headers['content-type']).toBe('application/x-www-form-urlencoded');

    const lookup = await srs(`/srs/transactions/${postback.tranid}`);
    expect(lookup.status).toBe(200);
    expect(await lookup.json()).toMatchObject({
      found: true,
      transaction: {
        tranId: postback.tranid,
        purchaseId: postback.purchaseid,
        approved: true,
        amount: '19.95',
        currencyCode: 'USD',
        type: 'sale',
      },
    });
  });

  it('declines on the payment page: approved=No postback, redirect to x-decl-link', async () => {
    const pageUrl = emulator.paymentPageUrl({
      eticketId: oneTime,
      authLink: 'https://shop.example/ok',
      declLink: 'https://shop.example/declined',
      custom: { paybridge_session: 'pbs_decline' },
    });
    const response = await clickThrough(pageUrl, 'Decline');
    expect(response.headers.get('location')).toBe('https://shop.example/declined');
    const postback = await postbackFor((f) => f.paybridge_session === 'pbs_decline');
    expect(postback).toMatchObject({ action: 'Auth', approved: 'No', trantype: 'sale', purchaseid: '' });
    const lookup = (await (await srs(`/srs/transactions/${postback.tranid}`)).json()) as {
      transaction: { approved: boolean; status: string };
    };
    expect(lookup.transaction).toMatchObject({ approved: false, status: 'declined' });
  });

  it('rejects unknown etickets and bad SRS credentials', async () => {
    const page = await fetch(emulator.paymentPageUrl({ eticketId: '1:2' }));
    expect(page.status).toBe(400);
    const denied = await srs('/srs/transactions', { StartDate: '2020-01-01', EndDate: '2999-01-01' }, 'GET', {
      ...CREDENTIALS,
      UserAccessKey: 'wrong',
    });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ result: 'Failed' });
  });

  it('sends a forged postback the SRS API does not confirm, and replays postbacks byte for byte', async () => {
    const forged = await emulator.sendForgedPostback({ paybridge_session: 'pbs_forged' });
    const received = await postbackFor((f) => f.paybridge_session === 'pbs_forged');
    expect(received).toMatchObject({ approved: 'Yes', trantype: 'sale', tranid: forged.fields.tranid });
    const lookup = await srs(`/srs/transactions/${forged.fields.tranid}`);
    expect(lookup.status).toBe(404);
    expect(await lookup.json()).toMatchObject({ found: false });

    const purchase = await emulator.completePurchase(
      emulator.paymentPageUrl({ eticketId: oneTime, custom: { paybridge_session: 'pbs_replay' } }),
    );
    const original = emulator.postbacks().find((p) => p.fields.tranid === purchase.transaction.tranId);
    const count = receiver.received.length;
    const replay = await emulator.replayPostback(String(original?.id));
    expect(replay.replayOf).toBe(original?.id);
    expect(receiver.received[count].body).toBe(original?.body);
  });

  it('refunds partially and then fully through SRS (Void/credit postbacks), and refuses more', async () => {
    const { transaction } = await emulator.completePurchase(
      emulator.paymentPageUrl({ eticketId: oneTime, custom: { paybridge_session: 'pbs_refund' } }),
    );
    const partial = await srs(`/srs/transactions/${transaction.tranId}/refund`, { Amount: '5.00' }, 'POST');
    expect(partial.status).toBe(200);
    const body = (await partial.json()) as {
      result: string;
      refund: { tranId: string; amount: string };
      transaction: Record<string, unknown>;
    };
    expect(body).toMatchObject({ result: 'Successful', refund: { amount: '5.00', relatedTranId: transaction.tranId, type: 'credit' } });
    expect(body.transaction).toMatchObject({ status: 'partially_refunded', refundedAmount: '5.00' });
    const creditPostback = await postbackFor((f) => f.tranid === body.refund.tranId);
    expect(creditPostback).toMatchObject({
      action: 'Void',
      trantype: 'credit',
      approved: 'Yes',
      price: '5.00',
      relatedtranid: transaction.tranId,
      paybridge_session: 'pbs_refund',
    });

    const tooMuch = await srs(`/srs/transactions/${transaction.tranId}/refund`, { Amount: '100' }, 'POST');
    expect(tooMuch.status).toBe(400);
    const rest = (await (await srs(`/srs/transactions/${transaction.tranId}/refund`, {}, 'POST')).json()) as { refund: { amount: string } };
    expect(rest.refund.amount).toBe('14.95');
    const again = await srs(`/srs/transactions/${transaction.tranId}/refund`, {}, 'POST');
    expect(again.status).toBe(409);
    const lookup = (await (await srs(`/srs/transactions/${transaction.tranId}`)).json()) as { transaction: Record<string, unknown> };
    expect(lookup.transaction).toMatchObject({ status: 'refunded', refundedAmount: '19.95' });
  });

  it('rebills a membership (Conversion, then Rebill), cancels it through SRS with a Cancel postback', async () => {
    const { membership } = await emulator.completePurchase(
      emulator.paymentPageUrl({ eticketId: monthly, custom: { paybridge_session: 'pbs_sub' } }),
    );
    const purchaseId = String(membership?.purchaseId);
    expect(membership).toMatchObject({ recurring: true, status: 'active' });
    const conversion = await emulator.rebill(purchaseId);
    const rebill = await emulator.rebill(purchaseId);
    expect([conversion.stage, rebill.stage]).toEqual(['Conversion', 'Rebill']);
    expect(await postbackFor((f) => f.tranid === rebill.tranId)).toMatchObject({
      stage: 'Rebill',
      trantype: 'sale',
      price: '39.99',
      purchaseid: purchaseId,
    });

    const cancelled = await srs(`/srs/memberships/${purchaseId}/cancel`, { CancelReason: 'customer request' }, 'POST');
    expect(await cancelled.json()).toMatchObject({
      result: 'Successful',
      membership: { status: 'cancelled', cancelReason: 'customer request' },
    });
    expect(await postbackFor((f) => f.action === 'Cancel' && f.purchaseid === purchaseId)).toMatchObject({
      paybridge_session: 'pbs_sub',
      eticketid: monthly,
    });
    expect((await srs(`/srs/memberships/${purchaseId}/cancel`, {}, 'POST')).status).toBe(409);
    await expect(emulator.rebill(purchaseId)).rejects.toThrow(/not an active/);
  });

  it('lists transactions in a date range for reconciliation', async () => {
    const { transaction } = await emulator.completePurchase(emulator.paymentPageUrl({ eticketId: oneTime }));
    const now = new Date(Date.now() + 1000).toISOString();
    const list = (await (await srs('/srs/transactions', { StartDate: startedAt.toISOString(), EndDate: now })).json()) as {
      count: number;
      transactions: { tranId: string }[];
    };
    expect(list.transactions.map((t) => t.tranId)).toContain(transaction.tranId);
    expect(list.count).toBe(emulator.transactions().length);
    const past = (await (await srs('/srs/transactions', { StartDate: '2001-01-01', EndDate: '2001-01-31' })).json()) as { count: number };
    expect(past.count).toBe(0);
    expect((await srs('/srs/transactions')).status).toBe(400);
  });

  it('injects failures on money calls only: failNext on refund, dropAfterChargeNext refunds without answering, hangNext on the purchase', async () => {
    const { transaction } = await emulator.completePurchase(emulator.paymentPageUrl({ eticketId: oneTime }));
    emulator.failNext(1, 503);
    // A lookup is not a money call: it does not consume the fault.
    expect((await srs(`/srs/transactions/${transaction.tranId}`)).status).toBe(200);
    const failed = await srs(`/srs/transactions/${transaction.tranId}/refund`, { Amount: '1.00' }, 'POST');
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ result: 'Failed' });
    expect(emulator.transactions().find((t) => t.tranId === transaction.tranId)?.refundedCents).toBe(0);

    emulator.dropAfterChargeNext(1);
    await expect(srs(`/srs/transactions/${transaction.tranId}/refund`, { Amount: '1.00' }, 'POST')).rejects.toThrow();
    expect(emulator.transactions().find((t) => t.tranId === transaction.tranId)?.refundedCents).toBe(100);

    const before = emulator.transactions().length;
    emulator.hangNext(1);
    const pageUrl = emulator.paymentPageUrl({ eticketId: oneTime });
    const hung = await fetch(pageUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'outcome=approve',
      signal: AbortSignal.timeout(300),
    }).catch((e: unknown) => e);
    expect((hung as { name?: string }).name).toBe('TimeoutError');
    expect(emulator.transactions()).toHaveLength(before);
  });
});
