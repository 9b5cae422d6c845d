import type Stripe from 'stripe';
import { type DisputeObject, disputeEvent } from './stripe-dispute.mapper';
import { eventAmount, type Expandable, fromStripeAmount, idOf, toStripeAmount } from './stripe-amounts';
import { savedChargeParams } from './stripe-saved-methods.mapper';

export { fromStripeAmount, toStripeAmount } from './stripe-amounts';
export { isDisputeEventType, toProviderDispute } from './stripe-dispute.mapper';
import {
  mapStatus,
  type ChargeInput,
  type CreateCheckoutInput,
  type ProviderPayment,
  type ProviderPaymentStatus,
  type ProviderRefund,
  type ProviderRefundStatus,
  type ProviderWebhookEvent,
} from '../payment-provider';

/**
 * Stripe's objects in our terms and back: amounts, statuses, request parameters and webhook events.
 * Pure functions, no I/O (the unit spec runs them over recorded payloads).
 */

// ---------------------------------------------------------------- request parameters

/** Metadata keys we put on every Stripe object we create, so webhooks and lookups map back to us. */
export const METADATA = { merchantId: 'merchant_id', reference: 'reference', key: 'paybridge_key' } as const;

/**
 * A Checkout Session for a hosted payment page. One line per cart line at its unit price; when the
 * total differs from the lines (a coupon or a gift card applied), one line for the whole order, so
 * Stripe charges exactly our total.
 *
 * Subscription mode (SUBSCRIPTION products) comes with the subscriptions issue: mode `subscription`,
 * `price_data.recurring: {interval}` on the lines, `subscription_data.metadata` (same keys as below) so
 * invoice and subscription events map back; CreateCheckoutInput then needs the billing interval.
 */
export function checkoutSessionParams(input: CreateCheckoutInput): Stripe.Checkout.SessionCreateParams {
  const currency = input.currency.toLowerCase();
  const linesTotal = input.lines.reduce((sum, l) => sum + l.unitAmount * l.quantity, 0);
  const lines =
    linesTotal === input.amount && input.lines.length > 0
      ? input.lines
      : [{ name: input.lines.length === 1 ? input.lines[0].name : `Order ${input.reference}`, unitAmount: input.amount, quantity: 1 }];
  const metadata = { [METADATA.merchantId]: input.merchantId, [METADATA.reference]: input.reference };
  return {
    mode: 'payment',
    line_items: lines.map((l) => ({
      quantity: l.quantity,
      price_data: { currency, unit_amount: toStripeAmount(l.unitAmount, input.currency), product_data: { name: l.name.slice(0, 250) } },
    })),
    success_url: input.successUrl,
    cancel_url: input.cancelUrl,
    client_reference_id: input.reference,
    customer_email: input.customer.email,
    metadata,
    payment_intent_data: { metadata },
  };
}

/**
 * A PaymentIntent confirmed at once with the given PaymentMethod. `return_url` makes Stripe answer a
 * 3-D Secure challenge with `next_action.redirect_to_url` (a URL we can hand to the client) instead of
 * `use_stripe_sdk`, and is required by automatic payment methods. `paybridge_key` lets retrieve() find
 * the intent when the answer to this request was lost. With `saved`: an off-session charge of the saved
 * method (savedChargeParams).
 */
export function paymentIntentParams(input: ChargeInput, returnUrl: string): Stripe.PaymentIntentCreateParams {
  const metadata = { [METADATA.merchantId]: input.merchantId, [METADATA.reference]: input.reference, [METADATA.key]: input.idempotencyKey };
  if (input.saved) return savedChargeParams({ ...input, saved: input.saved }, metadata);
  return {
    amount: toStripeAmount(input.amount, input.currency),
    currency: input.currency.toLowerCase(),
    payment_method: input.token,
    confirm: true,
    return_url: returnUrl,
    ...(input.description ? { description: input.description } : {}),
    metadata,
  };
}

// ---------------------------------------------------------------- objects

/** What a payment's last failure says, as our decline code. */
export function declineCodeOf(error: { decline_code?: string | null; code?: string | null } | null | undefined): string {
  return error?.decline_code || error?.code || 'generic_decline';
}

// ---------------------------------------------------------------- status tables

/**
 * Every PaymentIntent status Stripe documents (https://docs.stripe.com/payments/paymentintents/lifecycle)
 * and what it is for us. Exhaustive: a status added here without a row fails the type check, and one
 * Stripe sends that is not here throws UnknownProviderStatusError (never guessed as processing).
 *   requires_payment_method  confirmed and refused (a decline, failed 3-D Secure) → declined
 *   requires_confirmation    not confirmed yet (we always confirm at creation)      → processing
 *   requires_action          3-D Secure or another customer step                   → requires_action
 *   processing               the network has not answered yet                      → processing
 *   requires_capture         authorised, not captured (we always capture)          → processing
 *   canceled / succeeded     final                                                  → canceled / succeeded
 */
export type StripeIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';

export const STRIPE_INTENT_STATUSES: Readonly<Record<StripeIntentStatus, ProviderPaymentStatus>> = {
  requires_payment_method: 'declined',
  requires_confirmation: 'processing',
  requires_action: 'requires_action',
  processing: 'processing',
  requires_capture: 'processing',
  canceled: 'canceled',
  succeeded: 'succeeded',
};

/**
 * Every Refund status (https://docs.stripe.com/api/refunds/object#refund_object-status). `failed` and
 * `canceled` are refunds Stripe will not make; `requires_action` waits on the customer (some methods).
 */
export type StripeRefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';

export const STRIPE_REFUND_STATUSES: Readonly<Record<StripeRefundStatus, ProviderRefundStatus>> = {
  pending: 'pending',
  requires_action: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'failed',
};

/** A Checkout Session's status: `open` is still payable; `complete` and `expired` are final. */
export type StripeSessionStatus = 'open' | 'complete' | 'expired';

export const STRIPE_SESSION_STATUSES: Readonly<Record<StripeSessionStatus, 'open' | 'closed'>> = {
  open: 'open',
  complete: 'closed',
  expired: 'closed',
};

/**
 * A completed session's `payment_status`: `unpaid` is a delayed method (the money comes with
 * async_payment_succeeded), `no_payment_required` a zero total (we never open one; completing it is
 * what the session says, and the amount check downstream decides).
 */
export type StripeSessionPaymentStatus = 'paid' | 'unpaid' | 'no_payment_required';

export const STRIPE_SESSION_PAYMENT_STATUSES: Readonly<Record<StripeSessionPaymentStatus, 'paid' | 'unpaid'>> = {
  paid: 'paid',
  unpaid: 'unpaid',
  no_payment_required: 'paid',
};

/** Whether a Checkout Session can still be paid (UnknownProviderStatusError for a status we do not know). */
export function sessionIsOpen(status: unknown): boolean {
  return mapStatus('stripe', 'checkout session', STRIPE_SESSION_STATUSES, status) === 'open';
}

/** A PaymentIntent as our ProviderPayment (expand `latest_charge` to get the refunded amount). */
export function toProviderPayment(pi: Stripe.PaymentIntent): ProviderPayment {
  const currency = pi.currency.toUpperCase();
  const charge = pi.latest_charge && typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
  const status = mapStatus('stripe', 'payment intent', STRIPE_INTENT_STATUSES, pi.status);
  return {
    providerRef: pi.id,
    amount: fromStripeAmount(pi.amount, currency),
    currency,
    amountRefunded: charge ? fromStripeAmount(charge.amount_refunded, currency) : 0,
    status,
    ...(status === 'declined' ? { declineCode: declineCodeOf(pi.last_payment_error) } : {}),
    // Only a redirect gives us a URL for the client; other actions (use_stripe_sdk) leave it without one.
    ...(status === 'requires_action' ? { nextActionUrl: pi.next_action?.redirect_to_url?.url ?? undefined } : {}),
  };
}

/** A Refund's status in our terms (UnknownProviderStatusError for a status we do not know). */
export function refundStatusOf(refund: Pick<Stripe.Refund, 'status'>): ProviderRefundStatus {
  return mapStatus('stripe', 'refund', STRIPE_REFUND_STATUSES, refund.status);
}

/** A Refund in our terms; null for a refund Stripe will not make (failed, canceled). */
export function toProviderRefund(refund: Stripe.Refund): ProviderRefund | null {
  const status = refundStatusOf(refund);
  return status === 'failed' ? null : { providerRefundId: refund.id, status };
}

// ---------------------------------------------------------------- webhook events

/** The fields we read from the objects inside events: only stable ones, whatever the event's API version. */
interface Metadata {
  metadata?: Record<string, string> | null;
}
interface SessionObject extends Metadata {
  id: string;
  client_reference_id?: string | null;
  payment_intent?: Expandable;
  payment_status?: string | null;
  amount_total?: number | null;
  currency?: string | null;
}
interface IntentObject extends Metadata {
  id: string;
  description?: string | null;
  /** Older API versions: the invoice the intent pays. */
  invoice?: Expandable;
  amount?: number;
  currency?: string;
  last_payment_error?: { decline_code?: string | null; code?: string | null } | null;
}
interface ChargeObject extends Metadata {
  id: string;
  payment_intent?: Expandable;
  amount?: number;
  currency?: string;
}
interface InvoiceObject extends Metadata {
  id: string;
  subscription?: Expandable;
  parent?: { subscription_details?: { subscription?: Expandable; metadata?: Record<string, string> | null } | null } | null;
  subscription_details?: { metadata?: Record<string, string> | null } | null;
  amount_paid?: number;
  amount_due?: number;
  currency?: string;
  billing_reason?: string | null;
}
interface SubscriptionObject extends Metadata {
  id: string;
}

type Mapped = Omit<ProviderWebhookEvent, 'eventId' | 'type' | 'payload'>;

function ours(object: Metadata): { merchantId?: string; reference?: string } {
  const metadata = object.metadata ?? {};
  return { merchantId: metadata[METADATA.merchantId] || undefined, reference: metadata[METADATA.reference] || undefined };
}

/** Our checkout session ids are `cs_…` (API.md); a PaymentIntent carrying one was opened by a hosted checkout. */
const isCheckoutReference = (reference: string | undefined) => reference?.startsWith('cs_') === true;

/**
 * An intent Stripe Billing made to pay a subscription's invoice: it carries no metadata of ours (Stripe
 * copies none to it), only Billing's description (`Subscription creation|update|cycle`, or `invoice` on
 * older API versions). The purchase's charge or the invoice events mirror it, never its own events.
 */
function paysInvoice(pi: IntentObject): boolean {
  if (ours(pi).merchantId) return false;
  return Boolean(idOf(pi.invoice)) || /^Subscription (creation|update|cycle)$/.test(pi.description ?? '');
}

function completedSession(session: SessionObject): Mapped {
  return {
    kind: 'checkout.completed',
    merchantId: ours(session).merchantId,
    reference: session.client_reference_id ?? ours(session).reference,
    providerSessionId: session.id,
    providerRef: idOf(session.payment_intent),
    ...eventAmount(session.amount_total, session.currency),
  };
}

/**
 * Every event type the Stripe endpoint should subscribe to, and what each means for us. The table is
 * exhaustive over the subscribed types (the compiler checks it); any other type maps to `other`, is
 * stored and acknowledged.
 */
const SUBSCRIBED = {
  'checkout.session.completed': (s: SessionObject): Mapped =>
    // Delayed payment methods complete the session unpaid; the money arrives with async_payment_succeeded.
    mapStatus('stripe', 'checkout session payment', STRIPE_SESSION_PAYMENT_STATUSES, s.payment_status) === 'unpaid'
      ? { ...completedSession(s), kind: 'other' }
      : completedSession(s),
  'checkout.session.async_payment_succeeded': (s: SessionObject): Mapped => completedSession(s),
  'checkout.session.async_payment_failed': (s: SessionObject): Mapped => ({
    ...completedSession(s),
    kind: 'checkout.attempt_failed',
  }),
  'checkout.session.expired': (s: SessionObject): Mapped => ({
    kind: 'checkout.expired',
    merchantId: ours(s).merchantId,
    reference: s.client_reference_id ?? ours(s).reference,
    providerSessionId: s.id,
  }),
  'payment_intent.succeeded': (pi: IntentObject): Mapped => ({
    kind: paysInvoice(pi) ? 'other' : 'payment.succeeded',
    ...ours(pi),
    providerRef: pi.id,
    ...eventAmount(pi.amount, pi.currency),
  }),
  'payment_intent.payment_failed': (pi: IntentObject): Mapped => ({
    // A decline on the hosted page fails that attempt (the session stays open); elsewhere the payment fails.
    kind: paysInvoice(pi) ? 'other' : isCheckoutReference(ours(pi).reference) ? 'checkout.attempt_failed' : 'payment.failed',
    ...ours(pi),
    providerRef: pi.id,
    declineCode: declineCodeOf(pi.last_payment_error),
    ...eventAmount(pi.amount, pi.currency),
  }),
  'charge.refunded': (charge: ChargeObject): Mapped => ({
    kind: 'payment.refunded',
    ...ours(charge),
    providerRef: idOf(charge.payment_intent) ?? charge.id,
    ...eventAmount(charge.amount, charge.currency),
  }),
  // A dispute names no merchant of ours (Stripe copies no metadata to it): confirmEvent reads its PaymentIntent's.
  'charge.dispute.created': (dispute: DisputeObject): Mapped => disputeEvent(dispute),
  'charge.dispute.updated': (dispute: DisputeObject): Mapped => disputeEvent(dispute),
  'charge.dispute.funds_withdrawn': (dispute: DisputeObject): Mapped => disputeEvent(dispute),
  'charge.dispute.funds_reinstated': (dispute: DisputeObject): Mapped => disputeEvent(dispute),
  'charge.dispute.closed': (dispute: DisputeObject): Mapped => disputeEvent(dispute),
  // A renewal's invoice (not the first: that is the purchase's own charge); invoice.paid says it once.
  'invoice.paid': (invoice: InvoiceObject): Mapped => invoiceEvent(invoice, 'renewal.succeeded'),
  'invoice.payment_succeeded': (invoice: InvoiceObject): Mapped => invoiceEvent(invoice, 'other'),
  'invoice.payment_failed': (invoice: InvoiceObject): Mapped => invoiceEvent(invoice, 'renewal.failed'),
  'customer.subscription.created': (sub: SubscriptionObject): Mapped => ({ kind: 'other', ...ours(sub), providerRef: sub.id }),
  // Its status moves with the invoice events (past_due, active again); its end with .deleted.
  'customer.subscription.updated': (sub: SubscriptionObject): Mapped => ({ kind: 'other', ...ours(sub), providerRef: sub.id }),
  // Ours or not is told by its first invoice's charge, once confirmed (our metadata's reference is not compared).
  'customer.subscription.deleted': (sub: SubscriptionObject): Mapped => ({
    kind: 'subscription.canceled',
    merchantId: ours(sub).merchantId,
    providerRef: sub.id,
  }),
} satisfies Record<string, (object: never) => Mapped>;

export type SubscribedStripeEventType = keyof typeof SUBSCRIBED;

/** The event types to enable on the Stripe webhook endpoint (README). */
export const SUBSCRIBED_EVENT_TYPES = Object.keys(SUBSCRIBED) as SubscribedStripeEventType[];

/**
 * An invoice event. A subscription's renewal invoice (any billing reason but `subscription_create`) is a
 * renewal of a provider-managed subscription: it claims its merchant, amount and currency, and
 * confirmEvent names the charge (the invoice's PaymentIntent) from Stripe's records. Any other: `other`,
 * named by its subscription.
 */
function invoiceEvent(invoice: InvoiceObject, renewal: 'renewal.succeeded' | 'renewal.failed' | 'other'): Mapped {
  const details = invoice.parent?.subscription_details ?? null;
  const metadata = details?.metadata ?? invoice.subscription_details?.metadata ?? invoice.metadata ?? {};
  const subscription = idOf(details?.subscription) ?? idOf(invoice.subscription);
  const isRenewal =
    renewal !== 'other' && subscription !== undefined && !!invoice.billing_reason && invoice.billing_reason !== 'subscription_create';
  return {
    kind: isRenewal ? renewal : 'other',
    merchantId: metadata[METADATA.merchantId] || undefined,
    reference: isRenewal ? undefined : metadata[METADATA.reference] || undefined,
    providerRef: isRenewal ? undefined : (subscription ?? invoice.id),
    ...eventAmount(renewal === 'renewal.failed' ? invoice.amount_due : (invoice.amount_paid ?? invoice.amount_due), invoice.currency),
  };
}

export function isSubscribed(type: string): type is SubscribedStripeEventType {
  return Object.prototype.hasOwnProperty.call(SUBSCRIBED, type);
}

/** A verified Stripe event in our terms. */
export function toWebhookEvent(event: { id: string; type: string; data: { object: unknown } }): ProviderWebhookEvent {
  const object = (event.data?.object ?? {}) as { id?: string } & Metadata;
  const mapped: Mapped = isSubscribed(event.type)
    ? (SUBSCRIBED[event.type] as (o: unknown) => Mapped)(object)
    : { kind: 'other', ...ours(object), providerRef: object.id };
  const clean = Object.fromEntries(Object.entries(mapped).filter(([, v]) => v !== undefined && v !== null)) as Mapped;
  return { eventId: event.id, type: event.type, ...clean, payload: event };
}
