import { createHmac, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { fromMajorString, toMajorString } from '../../../common/money';
import {
  mapStatus,
  type ProviderDispute,
  type ProviderEventKind,
  type ProviderPayment,
  type ProviderPaymentStatus,
  type ProviderRefundStatus,
  type ProviderWebhookEvent,
} from '../payment-provider';

/**
 * Segpay's wire formats in our terms: the hosted payment page link, the postback fields, and the SRS
 * reporting API's records (our JSON approximation, test/emulators/README.md). Pure functions, so the
 * mapping is tested over recorded postbacks (segpay.mapper.spec.ts).
 */

/** A postback as Segpay sends it: flat form fields (`action`, `tranid`, `price`, …, custom ones echoed). */
export type SegpayPostbackFields = Record<string, string>;

/**
 * Our custom parameters on the payment page link. Segpay does not interpret parameters that do not
 * start with `x-` and echoes them in postbacks; the signature makes them tamper-evident, since the
 * customer can edit the link (and could otherwise swap in a cheaper price point and a matching amount).
 */
export const CUSTOM = {
  session: 'paybridge_session',
  merchant: 'paybridge_merchant',
  amount: 'paybridge_amount',
  currency: 'paybridge_currency',
  signature: 'paybridge_sig',
  /** Set on our one-click sales (SegpayOneClick): their postbacks are direct charges, confirmed by SRS's RefID. */
  oneClick: 'paybridge_oneclick',
} as const;

/** What our checkout expects Segpay to charge, as carried (signed) in the custom parameters. */
export interface SegpayCheckoutClaim {
  session: string;
  merchant: string;
  /** Minor units. */
  amount: number;
  currency: string;
  /** `package:pricepoint`. */
  eticketId: string;
}

export function checkoutSigningKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('paybridge:segpay:checkout:v1').digest();
}

export function signCheckoutClaim(claim: SegpayCheckoutClaim, key: Buffer): string {
  const text = [claim.session, claim.merchant, String(claim.amount), claim.currency, claim.eticketId].join('\n');
  return createHmac('sha256', key).update(text).digest('hex');
}

/** The claim echoed in a postback, when its signature holds; null when absent, incomplete or tampered with. */
export function verifiedCheckoutClaim(fields: SegpayPostbackFields, key: Buffer): SegpayCheckoutClaim | null {
  const amount = Number(fields[CUSTOM.amount]);
  const claim: SegpayCheckoutClaim = {
    session: fields[CUSTOM.session] ?? '',
    merchant: fields[CUSTOM.merchant] ?? '',
    amount,
    currency: fields[CUSTOM.currency] ?? '',
    eticketId: fields.eticketid ?? '',
  };
  const signature = fields[CUSTOM.signature] ?? '';
  if (!claim.session || !claim.merchant || !claim.currency || !claim.eticketId || !Number.isSafeInteger(amount)) return null;
  if (!/^[0-9a-f]{64}$/.test(signature)) return null;
  const expected = Buffer.from(signCheckoutClaim(claim, key), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex')) ? claim : null;
}

/**
 * The hosted payment page: `…/billing/poset.cgi?x-eticketid=<package>:<pricepoint>` with prefill
 * (`x-billemail`, `x-billname`, `x-billcntry`), return links (`x-auth-link` after an approval,
 * `x-decl-link` after a decline) and our signed custom parameters.
 */
export function paymentPageUrl(input: {
  pageBase: string;
  claim: SegpayCheckoutClaim;
  signature: string;
  successUrl: string;
  cancelUrl: string;
  customer: { email: string; name?: string | null; country?: string | null };
}): string {
  const url = new URL(`${input.pageBase.replace(/\/+$/, '')}/billing/poset.cgi`);
  const q = url.searchParams;
  q.set('x-eticketid', input.claim.eticketId);
  q.set('x-auth-link', input.successUrl);
  q.set('x-decl-link', input.cancelUrl);
  q.set('x-billemail', input.customer.email);
  if (input.customer.name) q.set('x-billname', input.customer.name);
  if (input.customer.country) q.set('x-billcntry', input.customer.country);
  q.set(CUSTOM.session, input.claim.session);
  q.set(CUSTOM.merchant, input.claim.merchant);
  q.set(CUSTOM.amount, String(input.claim.amount));
  q.set(CUSTOM.currency, input.claim.currency);
  q.set(CUSTOM.signature, input.signature);
  return url.toString();
}

// ---------------------------------------------------------------- postbacks

/** Every postback Segpay sends, by what it is about. */
export type SegpayPostbackType =
  | 'sale.approved'
  | 'sale.declined'
  | 'rebill.approved'
  | 'rebill.declined'
  | 'refund'
  | 'chargeback'
  | 'membership.cancelled'
  | 'unknown';

/**
 * The exhaustive table: action × trantype × stage × approved → our event kind.
 *   Auth   sale    Initial             Yes  sale.approved        → checkout.completed
 *   Auth   sale    Initial             No   sale.declined        → checkout.attempt_failed
 *   Auth   sale    Conversion|Rebill   Yes  rebill.approved      → renewal.succeeded (a provider-managed subscription)
 *   Auth   sale    Conversion|Rebill   No   rebill.declined      → renewal.failed
 *   Void   credit  (stage of the sale)      refund               → payment.refunded
 *   Void   charge  (stage of the sale)      chargeback           → dispute (final: lost at once)
 *   Cancel                                  membership.cancelled → subscription.canceled
 *   anything else                           unknown              → other (stored, acknowledged, ignored)
 */
export const POSTBACK_KINDS: Readonly<Record<SegpayPostbackType, ProviderEventKind>> = {
  'sale.approved': 'checkout.completed',
  'sale.declined': 'checkout.attempt_failed',
  'rebill.approved': 'renewal.succeeded',
  'rebill.declined': 'renewal.failed',
  refund: 'payment.refunded',
  chargeback: 'dispute',
  'membership.cancelled': 'subscription.canceled',
  unknown: 'other',
};

const same = (a: string | undefined, b: string) => (a ?? '').trim().toLowerCase() === b.toLowerCase();
export const isApproved = (fields: SegpayPostbackFields) => same(fields.approved, 'yes');

export function postbackType(fields: SegpayPostbackFields): SegpayPostbackType {
  if (same(fields.action, 'auth')) {
    if (!same(fields.trantype, 'sale')) return 'unknown';
    if (same(fields.stage, 'initial')) return isApproved(fields) ? 'sale.approved' : 'sale.declined';
    if (same(fields.stage, 'conversion') || same(fields.stage, 'rebill')) return isApproved(fields) ? 'rebill.approved' : 'rebill.declined';
    return 'unknown';
  }
  if (same(fields.action, 'void')) {
    if (same(fields.trantype, 'credit')) return 'refund';
    if (same(fields.trantype, 'charge')) return 'chargeback';
    return 'unknown';
  }
  if (same(fields.action, 'cancel')) return 'membership.cancelled';
  return 'unknown';
}

/** Reads a postback body (form-encoded); an empty body falls back to the query string (Segpay can send GET-style postbacks). */
export function readPostback(rawBody: Buffer, query: Record<string, unknown>): SegpayPostbackFields {
  const fields: SegpayPostbackFields = {};
  if (rawBody.length > 0) {
    for (const [k, v] of new URLSearchParams(rawBody.toString('utf8'))) if (!(k in fields)) fields[k] = v;
    return fields;
  }
  for (const [k, v] of Object.entries(query)) if (typeof v === 'string') fields[k] = v;
  return fields;
}

export class PostbackFormatError extends Error {}

/**
 * A stable id per postback, so a replayed or resent postback dedupes in payment_webhook_events. It
 * covers every field confirmEvent checks against SRS (transaction, action, stage, outcome, amount,
 * currency): a variant of a real postback that could pass confirmation has the same id as the real
 * one and is dropped as a duplicate, and a variant with other values gets its own id and fails
 * confirmation without shadowing the real postback.
 */
export function postbackEventId(fields: SegpayPostbackFields): string {
  if (same(fields.action, 'cancel')) return ['Cancel', fields.purchaseid ?? '', fields.transtime ?? ''].join(':');
  return [
    fields.tranid,
    fields.action,
    fields.stage ?? '',
    isApproved(fields) ? 'Yes' : 'No',
    fields.price ?? '',
    fields.currencycode ?? '',
  ].join(':');
}

/** The postback in our terms, before confirmation (kind, references, amount in minor units). */
export function toWebhookEvent(fields: SegpayPostbackFields): ProviderWebhookEvent {
  if (!fields.action) throw new PostbackFormatError('Not a Segpay postback: no action');
  const cancel = same(fields.action, 'cancel');
  if (!cancel && !fields.tranid) throw new PostbackFormatError('Segpay postback without tranid');
  if (cancel && !fields.purchaseid) throw new PostbackFormatError('Segpay cancel postback without purchaseid');
  const type = postbackType(fields);
  const currency = fields.currencycode ? fields.currencycode.trim().toUpperCase() : undefined;
  let amount: number | undefined;
  if (fields.price && currency) {
    try {
      amount = fromMajorString(fields.price, currency);
    } catch {
      throw new PostbackFormatError(`Segpay postback with an unreadable price '${fields.price}' ${currency}`);
    }
  }
  // A refund or chargeback is its own transaction; our payment knows the sale it reverses.
  const reverses = type === 'refund' || type === 'chargeback';
  return {
    eventId: postbackEventId(fields),
    type,
    kind:
      fields[CUSTOM.oneClick] && type.startsWith('sale.')
        ? type === 'sale.approved'
          ? 'payment.succeeded'
          : 'payment.failed'
        : POSTBACK_KINDS[type],
    merchantId: fields[CUSTOM.merchant] || undefined,
    reference: fields[CUSTOM.session] || undefined,
    providerSessionId: fields[CUSTOM.session] || undefined,
    providerRef: (reverses ? fields.relatedtranid : fields.tranid) || undefined,
    amount,
    currency,
    declineCode: type === 'sale.declined' || type === 'rebill.declined' ? 'generic_decline' : undefined,
    payload: { fields },
  };
}

export function postbackFieldsOf(event: ProviderWebhookEvent): SegpayPostbackFields {
  const fields = (event.payload as { fields?: SegpayPostbackFields } | null)?.fields;
  return fields ?? {};
}

// ---------------------------------------------------------------- SRS records

/** `GET /srs/transactions/:tranid` → `transaction`. Amounts in major units as strings ("19.95"). */
export interface SrsTransaction {
  tranId: string;
  purchaseId: string | null;
  eticketId: string;
  type: 'sale' | 'credit' | 'charge';
  stage: string;
  approved: boolean;
  status: SrsTransactionStatus;
  amount: string;
  currencyCode: string;
  refundedAmount: string;
  relatedTranId: string | null;
  /** One-click sales: the merchant's reference (our idempotency key). */
  refId?: string | null;
  createdAt: string;
  /** The custom parameters of the payment page link, as the transactions report echoes them (ours are signed). */
  custom?: Record<string, string>;
}

export interface SrsMembership {
  purchaseId: string;
  eticketId: string;
  status: 'active' | 'cancelled';
  initialTranId?: string;
  billEmail?: string | null;
  /** The card Segpay keeps for rebills and one-click sales. */
  card?: { brand: string; last4: string; expMonth: number; expYear: number };
}

/**
 * Every status SRS reports for a sale, in our terms. Exhaustive (a new status fails the type check);
 * one SRS sends that is not here throws UnknownProviderStatusError, so nothing is guessed.
 *   approved                        captured                      → succeeded
 *   declined                        refused                       → declined
 *   refunded / partially_refunded   captured, then (partly) refunded → succeeded (refundedAmount says how much)
 *   charged_back                    captured, then disputed        → succeeded (disputes are not modelled yet)
 */
export type SrsTransactionStatus = 'approved' | 'declined' | 'refunded' | 'partially_refunded' | 'charged_back';

export const SEGPAY_SALE_STATUSES: Readonly<Record<SrsTransactionStatus, ProviderPaymentStatus>> = {
  approved: 'succeeded',
  declined: 'declined',
  refunded: 'succeeded',
  partially_refunded: 'succeeded',
  charged_back: 'succeeded',
};

/** A credit (our refund) is approved or declined; any other status on a credit is unknown to us. */
export type SrsCreditStatus = 'approved' | 'declined';

export const SEGPAY_CREDIT_STATUSES: Readonly<Record<SrsCreditStatus, ProviderRefundStatus>> = {
  approved: 'succeeded',
  declined: 'failed',
};

export function creditStatusOf(credit: Pick<SrsTransaction, 'status'>): ProviderRefundStatus {
  return mapStatus('segpay', 'credit', SEGPAY_CREDIT_STATUSES, credit.status);
}

export function toProviderPayment(t: SrsTransaction): ProviderPayment {
  const currency = t.currencyCode.toUpperCase();
  const status = mapStatus('segpay', 'sale', SEGPAY_SALE_STATUSES, t.status);
  return {
    providerRef: t.tranId,
    status,
    amount: fromMajorString(t.amount, currency),
    currency,
    amountRefunded: t.refundedAmount ? fromMajorString(t.refundedAmount, currency) : 0,
    declineCode: status === 'declined' ? 'generic_decline' : undefined,
  };
}

/**
 * Why SRS does not confirm a postback (empty: it does). The postback must describe a transaction SRS
 * knows, field for field: type, stage, outcome, amount, currency, price point and, for a refund or
 * chargeback, the sale it reverses.
 */
export function confirmationProblems(fields: SegpayPostbackFields, t: SrsTransaction): string[] {
  const problems: string[] = [];
  const currency = (fields.currencycode ?? '').toUpperCase();
  if (t.tranId !== fields.tranid) problems.push(`tranid ${fields.tranid} ≠ ${t.tranId}`);
  if (!same(fields.trantype, t.type)) problems.push(`trantype ${fields.trantype} ≠ ${t.type}`);
  if (fields.stage !== undefined && !same(fields.stage, t.stage)) problems.push(`stage ${fields.stage} ≠ ${t.stage}`);
  if (isApproved(fields) !== t.approved) problems.push(`approved ${fields.approved} ≠ ${t.approved ? 'Yes' : 'No'}`);
  if (currency !== t.currencyCode.toUpperCase()) problems.push(`currency ${currency} ≠ ${t.currencyCode}`);
  else if (!sameAmount(fields.price, t.amount, currency)) problems.push(`price ${fields.price} ≠ ${t.amount}`);
  if ((fields.eticketid ?? '') !== t.eticketId) problems.push(`eticketid ${fields.eticketid} ≠ ${t.eticketId}`);
  if ((t.type === 'credit' || t.type === 'charge') && (fields.relatedtranid ?? '') !== (t.relatedTranId ?? ''))
    problems.push(`relatedtranid ${fields.relatedtranid} ≠ ${t.relatedTranId}`);
  return problems;
}

function sameAmount(a: string | undefined, b: string, currency: string): boolean {
  try {
    return a !== undefined && fromMajorString(a, currency) === fromMajorString(b, currency);
  } catch {
    return false;
  }
}

/** Why a confirmed sale does not match what our checkout expected (empty: it does). */
export function claimProblems(claim: SegpayCheckoutClaim, t: SrsTransaction): string[] {
  const problems: string[] = [];
  const currency = t.currencyCode.toUpperCase();
  if (claim.currency !== currency) return [`currency ${currency}, expected ${claim.currency}`];
  if (!sameAmount(toMajorString(claim.amount, currency), t.amount, currency))
    problems.push(`amount ${t.amount} ${currency}, expected ${toMajorString(claim.amount, currency)}`);
  if (claim.eticketId !== t.eticketId) problems.push(`price point ${t.eticketId}, expected ${claim.eticketId}`);
  return problems;
}

// ---------------------------------------------------------------- postback source addresses

/** `SEGPAY_POSTBACK_IPS`: comma-separated addresses or CIDR ranges; empty: any source. */
export function parseAllowList(spec: string): BlockList | null {
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    if (!family || (prefix !== undefined && !/^\d{1,3}$/.test(prefix)))
      throw new Error(`SEGPAY_POSTBACK_IPS: '${entry}' is not an address or CIDR range`);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

export function isAllowedSource(list: BlockList | null, ip: string): boolean {
  if (!list) return true;
  const address = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(address)) return list.check(address, 'ipv4');
  if (isIPv6(address)) return list.check(address, 'ipv6');
  return false;
}

/**
 * A chargeback SRS confirms, as a dispute: Segpay reports a chargeback once it is final (the money is
 * gone, no representment through its API), so it is lost from the start; no fee is reported.
 */
export function toChargebackDispute(t: SrsTransaction): ProviderDispute {
  const currency = t.currencyCode.toUpperCase();
  return {
    providerDisputeId: t.tranId,
    chargeRef: t.relatedTranId ?? '',
    amount: fromMajorString(t.amount, currency),
    currency,
    reason: null,
    status: 'lost',
    providerStatus: 'charged_back',
    evidenceDueBy: null,
    fundsWithdrawn: true,
    fundsReinstated: false,
    fee: 0,
  };
}
