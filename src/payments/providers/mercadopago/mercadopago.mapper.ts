import { fromMajorString, toMajorString } from '../../../common/money';
import {
  ProviderUnknownOutcomeError,
  mapStatus,
  type CreateCheckoutInput,
  type DisputeStatus,
  type ProviderDispute,
  type ProviderEventKind,
  type ProviderPayment,
  type ProviderPaymentStatus,
  type ProviderRefundStatus,
  type ProviderWebhookEvent,
} from '../payment-provider';

/**
 * Mercado Pago's payment as its API answers it (GET/POST /v1/payments, search results): the fields we
 * read. Amounts are decimals in major units; ids are numbers.
 */
export interface MercadoPagoPaymentPayload {
  id?: number | string;
  status?: string;
  status_detail?: string;
  transaction_amount?: number;
  transaction_amount_refunded?: number;
  currency_id?: string;
  external_reference?: string | null;
  metadata?: Record<string, unknown> | null;
  three_ds_info?: { external_resource_url?: string; creq?: string } | null;
  date_created?: string;
}

/** The body of a Mercado Pago webhook notification (`POST <url>?data.id=…&type=payment`). */
export interface MercadoPagoNotification {
  id?: number | string;
  action?: string;
  api_version?: string;
  type?: string;
  data?: { id?: string | number };
  date_created?: string;
  live_mode?: boolean;
  user_id?: number | string;
}

export type MercadoPagoStatus =
  | 'pending'
  | 'approved'
  | 'authorized'
  | 'in_process'
  | 'in_mediation'
  | 'rejected'
  | 'cancelled'
  | 'refunded'
  | 'charged_back';

type EventOutcome = 'succeeded' | 'failed' | 'refunded' | 'other';

/**
 * Every payment status Mercado Pago documents, what it means for a charge we made (charge/retrieve)
 * and for a notification (confirmEvent). Exhaustive: a new status fails the type check here.
 *   approved      money captured                          → succeeded / succeeded
 *   authorized    authorised, not captured (capture:false) → processing / other (we always capture)
 *   pending       waiting on the buyer (Pix, boleto, 3DS)  → processing / other
 *   in_process    under review (CONT: pending_contingency) → processing / other
 *   in_mediation  a dispute on a captured payment          → succeeded / other
 *   rejected      declined                                 → declined / failed (declineCode = status_detail)
 *   cancelled     expired or cancelled before capture      → canceled / other (recovery settles it via retrieve)
 *   refunded      fully refunded                           → succeeded (amountRefunded = all) / refunded
 *   charged_back  a chargeback on a captured payment       → succeeded / other
 */
export const MERCADOPAGO_STATUSES: Readonly<Record<MercadoPagoStatus, { payment: ProviderPaymentStatus; event: EventOutcome }>> = {
  approved: { payment: 'succeeded', event: 'succeeded' },
  authorized: { payment: 'processing', event: 'other' },
  pending: { payment: 'processing', event: 'other' },
  in_process: { payment: 'processing', event: 'other' },
  in_mediation: { payment: 'succeeded', event: 'other' },
  rejected: { payment: 'declined', event: 'failed' },
  cancelled: { payment: 'canceled', event: 'other' },
  refunded: { payment: 'succeeded', event: 'refunded' },
  charged_back: { payment: 'succeeded', event: 'other' },
};

/** UnknownProviderStatusError for an undocumented status: never guessed (the payment stays as it is). */
function statusOf(payment: MercadoPagoPaymentPayload): { payment: ProviderPaymentStatus; event: EventOutcome } {
  return mapStatus('mercadopago', 'payment', MERCADOPAGO_STATUSES, payment.status);
}

/**
 * Every refund status Mercado Pago documents (GET /v1/payments/:id/refunds/:refund_id):
 *   approved               made                          → succeeded
 *   in_process, authorized  not settled yet               → pending (settled later by retrieveRefund)
 *   rejected, cancelled     Mercado Pago will not make it → failed
 */
export type MercadoPagoRefundStatus = 'approved' | 'in_process' | 'authorized' | 'rejected' | 'cancelled';

export const MERCADOPAGO_REFUND_STATUSES: Readonly<Record<MercadoPagoRefundStatus, ProviderRefundStatus>> = {
  approved: 'succeeded',
  in_process: 'pending',
  authorized: 'pending',
  rejected: 'failed',
  cancelled: 'failed',
};

export function refundStatusOf(refund: { status?: string | null }): ProviderRefundStatus {
  return mapStatus('mercadopago', 'refund', MERCADOPAGO_REFUND_STATUSES, refund.status);
}

/**
 * The payment's own currency (`currency_id`, e.g. BRL, ARS, MXN, CLP, COP, PEN, UYU): never assumed.
 * A payment without one is an answer we cannot read, so nothing is decided from it.
 */
export function currencyOf(payment: { id?: number | string; currency_id?: string | null }): string {
  if (typeof payment.currency_id === 'string' && /^[A-Za-z]{3}$/.test(payment.currency_id)) return payment.currency_id.toUpperCase();
  throw new ProviderUnknownOutcomeError('mercadopago', `Mercado Pago payment ${String(payment.id)} came without a currency_id`);
}

/** Our checkout session ids start with `cs_`; direct charges carry our payment id (`pay_…`). */
export const isCheckoutReference = (reference: string | null | undefined): reference is string =>
  typeof reference === 'string' && reference.startsWith('cs_');

/** Minor units → the decimal number Mercado Pago's JSON takes (the only float, at the edge). */
export function toMercadoPagoAmount(amount: number, currency: string): number {
  return Number(toMajorString(amount, currency));
}

/** The amount the payment was charged in, in minor units. */
function minor(value: number | undefined, currency: string): number {
  return fromMajorString(value ?? 0, currency);
}

/** A 3-D Secure challenge (three_d_secure_mode: optional): pending/pending_challenge with a URL. */
function challengeUrl(payment: MercadoPagoPaymentPayload): string | undefined {
  if (payment.status !== 'pending' || payment.status_detail !== 'pending_challenge') return undefined;
  return payment.three_ds_info?.external_resource_url || undefined;
}

export function toProviderPayment(payment: MercadoPagoPaymentPayload): ProviderPayment {
  const currency = currencyOf(payment);
  const nextActionUrl = challengeUrl(payment);
  const status = nextActionUrl ? 'requires_action' : statusOf(payment).payment;
  const amount = minor(payment.transaction_amount, currency);
  return {
    providerRef: String(payment.id),
    status,
    amount,
    currency,
    amountRefunded: refundedOf(payment, amount, currency),
    declineCode: status === 'declined' ? payment.status_detail || 'rejected' : undefined,
    nextActionUrl,
  };
}

/** How much of the payment Mercado Pago has refunded in all (a refunded payment may not say it). */
function refundedOf(payment: MercadoPagoPaymentPayload, amount: number, currency: string): number {
  return payment.status === 'refunded' && !payment.transaction_amount_refunded
    ? amount
    : minor(payment.transaction_amount_refunded, currency);
}

/**
 * A confirmed notification: the payment as the API answers it now, in our terms. Hosted checkout
 * payments carry our session id as external_reference; direct charges our payment id. Either way
 * providerRef is Mercado Pago's payment id, and merchantId comes from the metadata we sent.
 */
export function toConfirmedEvent(notification: ProviderWebhookEvent, payment: MercadoPagoPaymentPayload): ProviderWebhookEvent {
  const currency = currencyOf(payment);
  const hosted = isCheckoutReference(payment.external_reference);
  const partiallyRefunded = payment.status === 'approved' && (payment.transaction_amount_refunded ?? 0) > 0;
  const outcome: EventOutcome = partiallyRefunded ? 'refunded' : statusOf(payment).event;
  const kinds: Record<EventOutcome, ProviderEventKind> = {
    succeeded: hosted ? 'checkout.completed' : 'payment.succeeded',
    failed: hosted ? 'checkout.attempt_failed' : 'payment.failed',
    refunded: 'payment.refunded',
    other: 'other',
  };
  const merchantId = payment.metadata?.merchant_id;
  return {
    ...notification,
    kind: kinds[outcome],
    merchantId: typeof merchantId === 'string' && merchantId ? merchantId : notification.merchantId,
    reference: payment.external_reference || undefined,
    providerRef: String(payment.id),
    amount: minor(payment.transaction_amount, currency),
    currency,
    declineCode: outcome === 'failed' ? payment.status_detail || 'rejected' : undefined,
  };
}

/**
 * The event id a notification is stored under. Mercado Pago's notification id (body `id`) is the same
 * on every retry of one notification and new for every later change (payment.created, each
 * payment.updated), so a retry or replay dedupes and a later status change is a new event. Without an
 * id (never seen, defensive): type, payment, action and the notification's creation time.
 */
export function eventIdOf(notification: MercadoPagoNotification, dataId: string): string {
  if (notification.id !== undefined && notification.id !== null && String(notification.id) !== '') return `mp_ntf_${notification.id}`;
  return `${notification.type ?? 'payment'}:${dataId}:${notification.action ?? 'unknown'}:${notification.date_created ?? ''}`;
}

/**
 * The `ts` of `x-signature` in milliseconds. Mercado Pago documents seconds (what the SDK's validator
 * assumes); notifications with milliseconds have been reported, so a 13-digit value is read as ms.
 */
export function signatureTimestampMs(signature: string): number | null {
  // Exactly one ts: the SDK checks the signature against the last one, so a fresh ts placed before an old,
  // validly signed one would otherwise pass the replay window.
  const all = [...signature.matchAll(/(?:^|,)\s*ts\s*=/gi)];
  const ts = /(?:^|,)\s*ts=(\d+)\s*(?:,|$)/.exec(signature)?.[1];
  if (!ts || all.length !== 1) return null;
  const value = Number(ts);
  return ts.length >= 13 ? value : value * 1000;
}

/**
 * Our direct-charge token for Mercado Pago: `<payment_method_id>:<card token>` (what the Card Payment
 * Brick / MercadoPago.js give the browser: `payment_method_id` and `token`), e.g. `master:9f1c…`.
 * A bare card token is sent without payment_method_id (Mercado Pago then refuses a card payment).
 */
export function parseChargeToken(token: string): { paymentMethodId?: string; cardToken: string } {
  const match = /^([a-z][a-z0-9_]{1,30}):(.+)$/.exec(token.trim());
  return match ? { paymentMethodId: match[1], cardToken: match[2] } : { cardToken: token.trim() };
}

/**
 * Our payment id from an attempt's idempotency key (`<payment id>_<attempt n>`, ChargesService), for
 * retrieve() when no provider ref is known. A key without that suffix is searched as it is.
 */
export function referenceFromAttemptKey(idempotencyKey: string): string {
  return /^(.+)_\d+$/.exec(idempotencyKey)?.[1] ?? idempotencyKey;
}

/** Mercado Pago's chargeback (GET /v1/chargebacks/:id): the fields we read. */
export interface MercadoPagoChargebackPayload {
  id?: string | number;
  payment_id?: number | string;
  status?: string;
  amount?: number;
  currency_id?: string;
  reason?: string;
  date_documentation_deadline?: string | null;
  date_created?: string;
}

const CHARGEBACK_STATUSES: Readonly<Record<string, DisputeStatus>> = {
  new: 'needs_response',
  in_review: 'under_review',
  won: 'won',
  lost: 'lost',
};

/**
 * A chargeback notification as Mercado Pago's records show it: the chargeback, on the payment it names
 * (whose metadata names our merchant). Mercado Pago holds back the disputed amount from the moment a
 * chargeback opens and releases it when the chargeback is won; it reports no fee of its own.
 */
export function toConfirmedChargeback(
  notification: ProviderWebhookEvent,
  chargeback: MercadoPagoChargebackPayload,
  payment: MercadoPagoPaymentPayload,
): ProviderWebhookEvent {
  const onPayment = toConfirmedEvent(notification, payment);
  const dispute = toChargebackDispute(chargeback, payment);
  return {
    ...notification,
    kind: 'dispute',
    merchantId: onPayment.merchantId,
    reference: onPayment.reference,
    providerRef: String(payment.id),
    amount: dispute.amount,
    currency: dispute.currency,
    dispute,
  };
}

/** A chargeback on a payment, as a dispute in our terms (its notification's, and reconciliation's listing). */
export function toChargebackDispute(chargeback: MercadoPagoChargebackPayload, payment: MercadoPagoPaymentPayload): ProviderDispute {
  const currency = (chargeback.currency_id || payment.currency_id || 'BRL').toUpperCase();
  const amount = minor(chargeback.amount, currency);
  const status = CHARGEBACK_STATUSES[chargeback.status ?? ''] ?? 'under_review';
  return {
    providerDisputeId: String(chargeback.id),
    chargeRef: String(payment.id),
    amount,
    currency,
    reason: chargeback.reason ?? null,
    status,
    providerStatus: chargeback.status ?? 'unknown',
    evidenceDueBy: chargeback.date_documentation_deadline ? new Date(chargeback.date_documentation_deadline) : null,
    fundsWithdrawn: true,
    fundsReinstated: status === 'won',
    fee: 0,
  };
}

/** Line items as Mercado Pago's unit prices; one summary line when the lines do not add up to the amount (a discount). */
export function preferenceItems(input: CreateCheckoutInput) {
  const sum = input.lines.reduce((total, line) => total + line.unitAmount * line.quantity, 0);
  if (sum !== input.amount || input.lines.some((l) => l.unitAmount <= 0)) {
    return [
      {
        id: input.reference,
        title: `Order ${input.reference}`,
        quantity: 1,
        unit_price: toMercadoPagoAmount(input.amount, input.currency),
        currency_id: input.currency,
      },
    ];
  }
  return input.lines.map((line, i) => ({
    id: `${input.reference}_${i + 1}`,
    title: line.name.slice(0, 256),
    quantity: line.quantity,
    unit_price: toMercadoPagoAmount(line.unitAmount, input.currency),
    currency_id: input.currency,
  }));
}
