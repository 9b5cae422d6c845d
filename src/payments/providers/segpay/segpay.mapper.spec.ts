import { UnknownProviderStatusError } from '../payment-provider';
import {
  checkoutSigningKey,
  creditStatusOf,
  SEGPAY_CREDIT_STATUSES,
  SEGPAY_SALE_STATUSES,
  claimProblems,
  confirmationProblems,
  isAllowedSource,
  parseAllowList,
  paymentPageUrl,
  POSTBACK_KINDS,
  PostbackFormatError,
  postbackType,
  readPostback,
  signCheckoutClaim,
  SrsTransaction,
  toProviderPayment,
  toWebhookEvent,
  verifiedCheckoutClaim,
} from './segpay.mapper';

/**
 * Postback bodies recorded from the Segpay emulator (test/emulators/segpay-emulator.ts), byte for byte,
 * with Paybridge's custom parameters as createCheckout writes them (signed with the key derived from
 * the SRS access key 'emu-access-key').
 */
const SIG_ONE_TIME = '289b2664d656dfccc394c74324045b6ab8a4c0c706f9698632e72f45d9622efc';
const SIG_MONTHLY = '68aa30802554746bc693b5cd39ef346fbf422283be4e663f9015506d1c2a95b5';
const ONE_TIME = `paybridge_session=cs_rec&paybridge_merchant=mer_default&paybridge_amount=2999&paybridge_currency=USD&paybridge_sig=${SIG_ONE_TIME}`;
const MONTHLY = `paybridge_session=cs_rec&paybridge_merchant=mer_default&paybridge_amount=3999&paybridge_currency=USD&paybridge_sig=${SIG_MONTHLY}`;
const GIFT =
  'eticketid=197001%3A26001&ip=127.0.0.1&transtime=2026-11-23+17%3A51%3A37&initialvalue=29.99&initialperiod=30&recurringvalue=&recurringperiod=&desc=Gift+card';
const GOLD =
  'eticketid=197001%3A26002&ip=127.0.0.1&transtime=2026-11-23+17%3A51%3A37&initialvalue=39.99&initialperiod=30&recurringvalue=39.99&recurringperiod=30&desc=Gold';

const RECORDED = {
  saleApproved: `${ONE_TIME}&action=Auth&stage=Initial&approved=Yes&trantype=sale&tranid=401669600&purchaseid=78197650&price=29.99&currencycode=USD&${GIFT}&billemail=buyer%40example.com`,
  saleDeclined: `${ONE_TIME}&action=Auth&stage=Initial&approved=No&trantype=sale&tranid=401669601&purchaseid=&price=29.99&currencycode=USD&${GIFT}&billemail=buyer%40example.com`,
  subscriptionStarted: `${MONTHLY}&action=Auth&stage=Initial&approved=Yes&trantype=sale&tranid=401669602&purchaseid=78197651&price=39.99&currencycode=USD&${GOLD}`,
  conversion: `${MONTHLY}&action=Auth&stage=Conversion&approved=Yes&trantype=sale&tranid=401669603&purchaseid=78197651&price=39.99&currencycode=USD&${GOLD}`,
  rebillDeclined: `${MONTHLY}&action=Auth&stage=Rebill&approved=No&trantype=sale&tranid=401669604&purchaseid=78197651&price=39.99&currencycode=USD&${GOLD}`,
  rebill: `${MONTHLY}&action=Auth&stage=Rebill&approved=Yes&trantype=sale&tranid=401669605&purchaseid=78197651&price=39.99&currencycode=USD&${GOLD}`,
  refund: `${ONE_TIME}&action=Void&stage=Initial&approved=Yes&trantype=credit&tranid=401669606&purchaseid=78197650&price=10.00&currencycode=USD&${GIFT}&relatedtranid=401669600&billemail=buyer%40example.com`,
  chargeback: `${MONTHLY}&action=Void&stage=Initial&approved=Yes&trantype=charge&tranid=401669607&purchaseid=78197651&price=39.99&currencycode=USD&${GOLD}&relatedtranid=401669602`,
  cancel: `${MONTHLY}&action=Cancel&purchaseid=78197651&eticketid=197001%3A26002&transtime=2026-11-23+17%3A51%3A37`,
};

/** The SRS lookup of the approved sale, as recorded (after a 10.00 refund). */
const SRS_SALE: SrsTransaction = {
  tranId: '401669600',
  purchaseId: '78197650',
  eticketId: '197001:26001',
  type: 'sale',
  stage: 'Initial',
  approved: true,
  status: 'partially_refunded',
  amount: '29.99',
  currencyCode: 'USD',
  refundedAmount: '10.00',
  relatedTranId: null,
  createdAt: '2026-11-23T17:51:37.678Z',
};
const SRS_CREDIT: SrsTransaction = {
  ...SRS_SALE,
  tranId: '401669606',
  type: 'credit',
  status: 'approved',
  amount: '10.00',
  refundedAmount: '0.00',
  relatedTranId: '401669600',
};

const fieldsOf = (body: string) => readPostback(Buffer.from(body), {});
const event = (body: string) => toWebhookEvent(fieldsOf(body));
const key = checkoutSigningKey('emu-access-key');

describe('Segpay postbacks → our events', () => {
  it.each([
    ['saleApproved', 'sale.approved', 'checkout.completed', '401669600', 2999],
    ['saleDeclined', 'sale.declined', 'checkout.attempt_failed', '401669601', 2999],
    ['subscriptionStarted', 'sale.approved', 'checkout.completed', '401669602', 3999],
    ['conversion', 'rebill.approved', 'renewal.succeeded', '401669603', 3999],
    ['rebillDeclined', 'rebill.declined', 'renewal.failed', '401669604', 3999],
    ['rebill', 'rebill.approved', 'renewal.succeeded', '401669605', 3999],
    ['refund', 'refund', 'payment.refunded', '401669600', 1000],
    ['chargeback', 'chargeback', 'dispute', '401669602', 3999],
  ] as const)('%s → %s (%s), providerRef %s, %i minor units', (name, type, kind, providerRef, amount) => {
    const mapped = event(RECORDED[name]);
    expect(mapped).toMatchObject({ type, kind, providerRef, amount, currency: 'USD', merchantId: 'mer_default', reference: 'cs_rec' });
    expect(mapped.providerSessionId).toBe('cs_rec');
  });

  it('a decline carries a decline code; an approval does not', () => {
    expect(event(RECORDED.saleDeclined).declineCode).toBe('generic_decline');
    expect(event(RECORDED.saleApproved).declineCode).toBeUndefined();
  });

  it('a cancellation has no transaction, amount or currency', () => {
    expect(event(RECORDED.cancel)).toMatchObject({
      type: 'membership.cancelled',
      kind: 'subscription.canceled',
      eventId: 'Cancel:78197651:2026-11-23 17:51:37',
    });
    expect(event(RECORDED.cancel).amount).toBeUndefined();
  });

  it('event ids: one per transaction and outcome, identical for a byte-for-byte replay', () => {
    const ids = Object.values(RECORDED).map((body) => event(body).eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(event(RECORDED.saleApproved).eventId).toBe('401669600:Auth:Initial:Yes:29.99:USD');
    expect(event(RECORDED.saleApproved).eventId).toBe(event(`${RECORDED.saleApproved}`).eventId);
    // A variant with another outcome or price is another event: it cannot shadow the real one.
    expect(event(RECORDED.saleApproved.replace('price=29.99', 'price=0.99')).eventId).not.toBe(event(RECORDED.saleApproved).eventId);
  });

  it('every postback type maps to a kind (the table is exhaustive), unknown combinations to other', () => {
    expect(Object.keys(POSTBACK_KINDS).sort()).toEqual(
      [
        'chargeback',
        'membership.cancelled',
        'rebill.approved',
        'rebill.declined',
        'refund',
        'sale.approved',
        'sale.declined',
        'unknown',
      ].sort(),
    );
    expect(postbackType({ action: 'Auth', trantype: 'sale', stage: 'Reactivation', approved: 'Yes' })).toBe('unknown');
    expect(postbackType({ action: 'Void', trantype: 'sale' })).toBe('unknown');
    expect(postbackType({ action: 'Probe' })).toBe('unknown');
    expect(postbackType({ action: 'auth', trantype: 'SALE', stage: 'initial', approved: 'yes' })).toBe('sale.approved');
  });

  it('refuses bodies that are not postbacks, and prices with more decimals than the currency has', () => {
    expect(() => event('hello=world')).toThrow(PostbackFormatError);
    expect(() => event('action=Auth&trantype=sale')).toThrow(/tranid/);
    expect(() => event('action=Cancel')).toThrow(/purchaseid/);
    expect(() => event(RECORDED.saleApproved.replace('price=29.99', 'price=29.999'))).toThrow(/price/);
    expect(() => event('{"action":"Auth"}')).toThrow(PostbackFormatError);
  });

  it('reads GET-style postbacks from the query string when the body is empty', () => {
    expect(readPostback(Buffer.alloc(0), { action: 'Cancel', purchaseid: '1', n: 2 })).toEqual({ action: 'Cancel', purchaseid: '1' });
  });
});

describe('checkout claim: the signed custom parameters', () => {
  it('a recorded postback carries a valid claim with the expected amount, currency and price point', () => {
    expect(verifiedCheckoutClaim(fieldsOf(RECORDED.saleApproved), key)).toEqual({
      session: 'cs_rec',
      merchant: 'mer_default',
      amount: 2999,
      currency: 'USD',
      eticketId: '197001:26001',
    });
  });

  it.each([
    ['a cheaper amount', (b: string) => b.replace('paybridge_amount=2999', 'paybridge_amount=99')],
    ['another price point', (b: string) => b.replace('eticketid=197001%3A26001', 'eticketid=197001%3A26002')],
    ['another session', (b: string) => b.replace('paybridge_session=cs_rec', 'paybridge_session=cs_other')],
    ['another merchant', (b: string) => b.replace('paybridge_merchant=mer_default', 'paybridge_merchant=mer_x')],
    ['no signature', (b: string) => b.replace(`&paybridge_sig=${SIG_ONE_TIME}`, '')],
  ])('tampering with %s voids it', (_name, tamper) => {
    expect(verifiedCheckoutClaim(fieldsOf(tamper(RECORDED.saleApproved)), key)).toBeNull();
  });

  it('another key voids it', () => {
    expect(verifiedCheckoutClaim(fieldsOf(RECORDED.saleApproved), checkoutSigningKey('rotated'))).toBeNull();
  });

  it('the payment page link carries eticket, return links, prefill and the signed claim', () => {
    const claim = { session: 'cs_1', merchant: 'mer_default', amount: 2999, currency: 'USD', eticketId: '197001:26001' };
    const url = new URL(
      paymentPageUrl({
        pageBase: 'https://secure2.segpay.com/',
        claim,
        signature: signCheckoutClaim(claim, key),
        successUrl: 'https://shop.example.com/ok?x=1',
        cancelUrl: 'https://shop.example.com/no',
        customer: { email: 'a@example.com', name: 'Ada', country: null },
      }),
    );
    expect(url.origin + url.pathname).toBe('https://secure2.segpay.com/billing/poset.cgi');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      'x-eticketid': '197001:26001',
      'x-auth-link': 'https://shop.example.com/ok?x=1',
      'x-decl-link': 'https://shop.example.com/no',
      'x-billemail': 'a@example.com',
      'x-billname': 'Ada',
      paybridge_session: 'cs_1',
      paybridge_merchant: 'mer_default',
      paybridge_amount: '2999',
      paybridge_currency: 'USD',
      paybridge_sig: signCheckoutClaim(claim, key),
    });
  });
});

describe('SRS confirmation', () => {
  it('the recorded sale and refund postbacks match their SRS records', () => {
    expect(confirmationProblems(fieldsOf(RECORDED.saleApproved), SRS_SALE)).toEqual([]);
    expect(confirmationProblems(fieldsOf(RECORDED.refund), SRS_CREDIT)).toEqual([]);
    expect(claimProblems(verifiedCheckoutClaim(fieldsOf(RECORDED.saleApproved), key)!, SRS_SALE)).toEqual([]);
  });

  it.each([
    ['a declined sale claimed as approved', { approved: 'No' }, /approved/],
    ['another price', { price: '0.99' }, /price/],
    ['another currency', { currencycode: 'EUR' }, /currency/],
    ['another price point', { eticketid: '197001:26002' }, /eticketid/],
    ['a credit claimed as a sale', { trantype: 'credit' }, /trantype/],
    ['a rebill claimed as the first sale', { stage: 'Rebill' }, /stage/],
  ])('refuses %s', (_name, srsChange, problem) => {
    const srs = { ...SRS_SALE } as SrsTransaction & Record<string, unknown>;
    if ('approved' in srsChange) srs.approved = false;
    if ('price' in srsChange) srs.amount = '0.99';
    if ('currencycode' in srsChange) srs.currencyCode = 'EUR';
    if ('eticketid' in srsChange) srs.eticketId = '197001:26002';
    if ('trantype' in srsChange) srs.type = 'credit';
    if ('stage' in srsChange) srs.stage = 'Rebill';
    expect(confirmationProblems(fieldsOf(RECORDED.saleApproved), srs).join()).toMatch(problem);
  });

  it('refuses a refund postback that names another sale', () => {
    expect(confirmationProblems(fieldsOf(RECORDED.refund), { ...SRS_CREDIT, relatedTranId: '1' }).join()).toMatch(/relatedtranid/);
  });

  it('a confirmed sale at another price than the checkout expected is a claim problem (price point ≠ session total)', () => {
    const claim = { session: 'cs_rec', merchant: 'mer_default', amount: 5998, currency: 'USD', eticketId: '197001:26001' };
    expect(claimProblems(claim, SRS_SALE)).toEqual(['amount 29.99 USD, expected 59.98']);
    expect(claimProblems({ ...claim, amount: 2999, currency: 'EUR' }, SRS_SALE)).toEqual(['currency USD, expected EUR']);
  });

  it('maps an SRS transaction to a provider payment in minor units', () => {
    expect(toProviderPayment(SRS_SALE)).toEqual({
      providerRef: '401669600',
      status: 'succeeded',
      amount: 2999,
      currency: 'USD',
      amountRefunded: 1000,
      declineCode: undefined,
    });
    expect(toProviderPayment({ ...SRS_SALE, approved: false, status: 'declined', refundedAmount: '0.00' })).toMatchObject({
      status: 'declined',
      declineCode: 'generic_decline',
      amountRefunded: 0,
    });
  });

  it('the sale and credit status tables hold every SRS status; refunded and charged-back sales were captured', () => {
    expect(SEGPAY_SALE_STATUSES).toEqual({
      approved: 'succeeded',
      declined: 'declined',
      refunded: 'succeeded',
      partially_refunded: 'succeeded',
      charged_back: 'succeeded',
    });
    expect(SEGPAY_CREDIT_STATUSES).toEqual({ approved: 'succeeded', declined: 'failed' });
    expect(toProviderPayment({ ...SRS_SALE, status: 'charged_back' }).status).toBe('succeeded');
    expect(creditStatusOf({ status: 'approved' })).toBe('succeeded');
    expect(creditStatusOf({ status: 'declined' })).toBe('failed');
  });

  it('an unknown SRS status throws UnknownProviderStatusError (the payment stays as it is)', () => {
    const unknown = { ...SRS_SALE, status: 'voided' } as unknown as SrsTransaction;
    expect(() => toProviderPayment(unknown)).toThrow(UnknownProviderStatusError);
    expect(() => creditStatusOf({ status: 'refunded' })).toThrow(UnknownProviderStatusError);
  });
});

describe('postback source allow-list', () => {
  it('empty: any source', () => {
    expect(isAllowedSource(parseAllowList(' '), '198.51.100.1')).toBe(true);
  });

  it('addresses and CIDR ranges, IPv4-mapped IPv6 included', () => {
    const list = parseAllowList('10.0.0.0/8, 127.0.0.1,2001:db8::/32');
    expect(isAllowedSource(list, '127.0.0.1')).toBe(true);
    expect(isAllowedSource(list, '::ffff:127.0.0.1')).toBe(true);
    expect(isAllowedSource(list, '10.20.30.40')).toBe(true);
    expect(isAllowedSource(list, '2001:db8::1')).toBe(true);
    expect(isAllowedSource(list, '127.0.0.2')).toBe(false);
    expect(isAllowedSource(list, '198.51.100.1')).toBe(false);
    expect(isAllowedSource(list, 'not-an-ip')).toBe(false);
  });

  it('refuses a malformed entry at start', () => {
    expect(() => parseAllowList('127.0.0.1,segpay.com')).toThrow(/SEGPAY_POSTBACK_IPS/);
    expect(() => parseAllowList('10.0.0.0/x')).toThrow(/SEGPAY_POSTBACK_IPS/);
  });
});
