import type { ProviderWebhookEvent } from '../payment-provider';
import { oneClickEvent, oneClickRefId, parseRefId } from './segpay-one-click';
import { readPostback, SrsTransaction, toWebhookEvent } from './segpay.mapper';

const postback = (extra: string) =>
  toWebhookEvent(
    readPostback(
      Buffer.from(
        `action=Auth&stage=Initial&approved=Yes&trantype=sale&tranid=501&purchaseid=77&price=12.50&currencycode=USD&eticketid=1:10${extra}`,
      ),
      {},
    ),
  );
const sale: SrsTransaction = {
  tranId: '501',
  purchaseId: '77',
  eticketId: '1:10',
  type: 'sale',
  stage: 'Initial',
  approved: true,
  status: 'approved',
  amount: '12.50',
  currencyCode: 'USD',
  refundedAmount: '0.00',
  relatedTranId: null,
  refId: 'mer_a:pay_1:pay_1_1',
  createdAt: '2026-12-04T10:00:00.000Z',
};

describe('Segpay one-click sales', () => {
  it('the RefID carries merchant, payment and key (the key may hold colons)', () => {
    const ref = oneClickRefId({ merchantId: 'mer_a', reference: 'pay_1', idempotencyKey: 'k:1:x' });
    expect(parseRefId(ref)).toEqual({ merchantId: 'mer_a', reference: 'pay_1', idempotencyKey: 'k:1:x' });
    expect(parseRefId('no-colons')).toBeNull();
    expect(parseRefId(null)).toBeNull();
  });

  it('a postback marked paybridge_oneclick is a direct charge outcome; an Initial sale without it stays a checkout', () => {
    expect(postback('&paybridge_oneclick=1')).toMatchObject({ kind: 'payment.succeeded', providerRef: '501', amount: 1250 });
    expect(postback('&paybridge_oneclick=1').kind).toBe('payment.succeeded');
    expect(postback('').kind).toBe('checkout.completed');
    const declined = toWebhookEvent(
      readPostback(Buffer.from('action=Auth&stage=Initial&approved=No&trantype=sale&tranid=502&paybridge_oneclick=1'), {}),
    );
    expect(declined.kind).toBe('payment.failed');
  });

  it('confirmed: merchant and payment from the RefID SRS reports, never from the postback; no RefID: not ours', () => {
    const claimed: ProviderWebhookEvent = { ...postback('&paybridge_oneclick=1&paybridge_merchant=mer_evil'), merchantId: 'mer_evil' };
    expect(oneClickEvent(claimed, sale)).toMatchObject({
      kind: 'payment.succeeded',
      merchantId: 'mer_a',
      reference: 'pay_1',
      providerRef: '501',
    });
    expect(oneClickEvent(claimed, { ...sale, refId: null })).toBeNull();
    expect(oneClickEvent(postback(''), sale)).toBeNull();
  });
});
