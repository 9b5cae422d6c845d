import { toMajorString } from '../../../common/money';
import {
  ChargeInput,
  ProviderDeclineError,
  ProviderPayment,
  ProviderSavedMethod,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  ProviderWebhookEvent,
  SavedMethodRef,
  SaveMethodInput,
} from '../payment-provider';
import { CUSTOM, SrsMembership, SrsTransaction, toProviderPayment } from './segpay.mapper';

export interface SrsAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** What the one-click helper uses of SegpayProvider: its SRS client and lookups. */
export interface SrsAccess {
  srs(method: 'GET' | 'POST', path: string, options?: { params?: Record<string, string>; money?: boolean }): Promise<SrsAnswer>;
  findMembership(purchaseId: string): Promise<SrsMembership | null>;
  findTransaction(tranId: string): Promise<SrsTransaction | null>;
}

export function errorText(answer: SrsAnswer): string {
  return typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${answer.status}`;
}

/** How far back a lost one-click answer is looked for by its RefID (as Stripe's lookup window). */
const LOOKUP_WINDOW_MS = 4 * 86_400_000;

/**
 * Segpay's saved methods: a purchase id (OCToken) whose card Segpay keeps, charged again without the
 * buyer by a one-click sale (POST /srs/oneclick, our JSON approximation of Segpay's one-click service;
 * see test/emulators/README.md). Segpay has no customer object and nothing to detach: both refs are the
 * purchase id, and a deleted method is only forgotten here.
 */
export class SegpayOneClick {
  constructor(
    private readonly access: SrsAccess,
    private readonly eticketId: string | undefined,
  ) {}

  /**
   * Checks a purchase id before it is kept: Segpay must know the purchase, its first sale must have been
   * approved and not charged back, and it must be this customer's (the billing email Segpay holds).
   */
  async save(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    const purchaseId = input.token.trim();
    const refuse = (why: string) =>
      new ProviderDeclineError('segpay', 'invalid_payment_method', undefined, `Segpay purchase ${purchaseId} ${why}`);
    const membership = await this.access.findMembership(purchaseId);
    if (!membership?.initialTranId) throw refuse('is unknown to Segpay');
    if ((membership.billEmail ?? '').trim().toLowerCase() !== input.customer.email.trim().toLowerCase())
      throw refuse("is not this customer's");
    const sale = await this.access.findTransaction(membership.initialTranId);
    if (!sale?.approved || sale.status === 'charged_back') throw refuse('cannot be charged again');
    if (!membership.card) throw refuse('has no card Segpay keeps');
    return {
      providerCustomerRef: purchaseId,
      providerMethodRef: purchaseId,
      brand: membership.card.brand,
      last4: membership.card.last4,
      expMonth: membership.card.expMonth,
      expYear: membership.card.expYear,
    };
  }

  /**
   * A one-click sale on the saved purchase, on the product's price point (priceRef) or else
   * SEGPAY_PACKAGE_ID:SEGPAY_PRICE_POINT_ID, at our amount,
   * with our idempotency key as its RefID: Segpay answers the same transaction to a retry. A decline is a
   * ProviderDeclineError; a purchase Segpay refuses (unknown, charged back) is invalid_payment_method.
   */
  async charge(input: ChargeInput & { saved: SavedMethodRef }): Promise<ProviderPayment> {
    // The product's own price point (a recurring one starts a membership Segpay rebills), else the configured one.
    const eticketId = input.priceRef ?? this.eticketId;
    if (!eticketId)
      throw new ProviderUnavailableError('segpay', 'Segpay has no price point configured (SEGPAY_PACKAGE_ID, SEGPAY_PRICE_POINT_ID)');
    const answer = await this.access.srs('POST', '/srs/oneclick', {
      params: {
        OCToken: input.saved.providerMethodRef,
        EticketID: eticketId,
        Amount: toMajorString(input.amount, input.currency),
        CurrencyCode: input.currency,
        RefID: oneClickRefId(input),
        // Echoed in the postback (unsigned): marks it as a direct charge's, which SRS's RefID then confirms.
        [CUSTOM.oneClick]: '1',
      },
      money: true,
    });
    const transaction = answer.body.transaction as SrsTransaction | undefined;
    if (answer.status === 200 && transaction?.tranId) {
      const payment = toProviderPayment(transaction);
      if (payment.status === 'declined')
        throw new ProviderDeclineError('segpay', payment.declineCode ?? 'generic_decline', payment.providerRef);
      return payment;
    }
    if (answer.status === 404 || answer.status === 409)
      throw new ProviderDeclineError(
        'segpay',
        'invalid_payment_method',
        undefined,
        `Segpay refused the one-click sale: ${errorText(answer)}`,
      );
    if (answer.status >= 400 && answer.status < 500)
      throw new ProviderDeclineError('segpay', 'invalid_request', undefined, `Segpay refused the one-click sale: ${errorText(answer)}`);
    throw new ProviderUnknownOutcomeError('segpay', `Segpay answered the one-click sale with HTTP ${answer.status} and no transaction`);
  }

  /**
   * Whose subscription a membership is, from SRS's records only: a membership started by a one-click sale
   * of ours (its RefID names the merchant), that sale being our subscription's first payment
   * (firstChargeRef). Empty for any other membership (no subscription of ours: not applied as one).
   */
  async membershipOwner(purchaseId: string): Promise<{ merchantId?: string; firstChargeRef?: string }> {
    const membership = await this.access.findMembership(purchaseId);
    const first = membership?.initialTranId ? await this.access.findTransaction(membership.initialTranId) : null;
    const ref = parseRefId(first?.refId);
    return ref && membership?.initialTranId ? { merchantId: ref.merchantId, firstChargeRef: membership.initialTranId } : {};
  }

  /** Cancels the membership started by the sale `firstChargeRef` (SRS); one already cancelled is fine. */
  async cancelMembership(firstChargeRef: string): Promise<void> {
    const sale = await this.access.findTransaction(firstChargeRef);
    if (!sale?.purchaseId) throw new ProviderUnavailableError('segpay', `SRS shows no purchase for sale ${firstChargeRef}`);
    const answer = await this.access.srs('POST', `/srs/memberships/${encodeURIComponent(sale.purchaseId)}/cancel`, {
      params: { CancelReason: 'Canceled through Paybridge' },
    });
    if (answer.status !== 200 && answer.status !== 409)
      throw new ProviderUnavailableError('segpay', `SRS did not cancel purchase ${sale.purchaseId}: ${errorText(answer)}`);
  }

  /** The one-click sale made under our idempotency key (in its RefID), from the transactions report; null: none. */
  async findByKey(idempotencyKey: string): Promise<ProviderPayment | null> {
    const answer = await this.access.srs('GET', '/srs/transactions', {
      params: {
        StartDate: new Date(Date.now() - LOOKUP_WINDOW_MS).toISOString().slice(0, 10),
        EndDate: new Date(Date.now() + 86_400_000).toISOString().slice(0, 10),
        Type: 'sale',
      },
    });
    if (answer.status !== 200 || !Array.isArray(answer.body.transactions))
      throw new ProviderUnavailableError('segpay', `SRS transactions report answered HTTP ${answer.status}: ${errorText(answer)}`);
    const match = (answer.body.transactions as SrsTransaction[]).find((t) => parseRefId(t.refId)?.idempotencyKey === idempotencyKey);
    return match ? toProviderPayment(match) : null;
  }
}

/**
 * A one-click sale's RefID: `<merchant>:<our payment id>:<idempotency key>`. Only we set it (through
 * SRS, with our credentials), and SRS reports it back, so a postback about the sale is mapped to the
 * merchant and payment from SRS's records, never from the postback's unsigned fields.
 */
export function oneClickRefId(input: { merchantId: string; reference: string; idempotencyKey: string }): string {
  return `${input.merchantId}:${input.reference}:${input.idempotencyKey}`;
}

export function parseRefId(refId: string | null | undefined): { merchantId: string; reference: string; idempotencyKey: string } | null {
  const match = /^([^:]+):([^:]+):(.+)$/.exec(refId ?? '');
  return match ? { merchantId: match[1], reference: match[2], idempotencyKey: match[3] } : null;
}

/**
 * The postback of a one-click sale (an Initial-stage sale marked paybridge_oneclick, which the mapper
 * reads as a direct charge's outcome) confirmed: for the merchant and payment that SRS's RefID names,
 * never the postback's fields. Null when SRS shows no one-click sale of ours: not confirmed.
 */
export function oneClickEvent(event: ProviderWebhookEvent, transaction: SrsTransaction): ProviderWebhookEvent | null {
  const ref = parseRefId(transaction.refId);
  if (!ref || transaction.type !== 'sale' || (event.kind !== 'payment.succeeded' && event.kind !== 'payment.failed')) return null;
  return {
    ...event,
    kind: transaction.approved ? 'payment.succeeded' : 'payment.failed',
    merchantId: ref.merchantId,
    reference: ref.reference,
    providerSessionId: undefined,
    providerRef: transaction.tranId,
  };
}
