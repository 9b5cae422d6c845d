/**
 * The one contract every payment provider adapter implements, in our types: amounts in minor units,
 * our statuses, our errors. Adapters throw:
 *   ProviderDeclineError       a final answer from the card network: never retried elsewhere
 *   ProviderUnavailableError   nothing happened (5xx, 429, connection refused): may fail over
 *   ProviderUnknownOutcomeError the request was sent and no answer came back: resolve with retrieve()
 *                               at this provider before anything else is tried
 */
export const PROVIDER_IDS = ['simulator', 'stripe', 'mercadopago', 'segpay'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export interface ProviderLine {
  name: string;
  unitAmount: number;
  quantity: number;
}

export interface ProviderCustomer {
  email: string;
  name?: string | null;
  country?: string | null;
}

export interface CreateCheckoutInput {
  merchantId: string;
  /** Our checkout session id, echoed back by the provider's webhooks. */
  reference: string;
  amount: number;
  currency: string;
  lines: ProviderLine[];
  customer: ProviderCustomer;
  successUrl: string;
  cancelUrl: string;
  /** Derived from our idempotency key: the provider deduplicates retries. */
  idempotencyKey: string;
  /**
   * The page must save the method for later charges without the customer (Stripe's setup_future_usage:
   * off_session), for the provider customer we hold (null: the provider creates one). Only providers with
   * `savesOnHostedPage` are asked.
   */
  saveMethod?: { providerCustomerRef: string | null };
}

export interface ProviderCheckout {
  providerSessionId: string;
  url: string;
}

export interface ChargeInput {
  merchantId: string;
  reference: string;
  amount: number;
  currency: string;
  /** A one-time payment-method token, or (with `saved`) the saved method's providerMethodRef. */
  token: string;
  /** Charges a method saved at this provider without the customer present (renewals, one-click). */
  saved?: SavedMethodRef;
  customer: ProviderCustomer;
  description?: string;
  /** Where the customer comes back after a 3-D Secure challenge. */
  returnUrl?: string;
  /** The provider's own price the cart sells through, when its product has one (Segpay: `package:pricepoint`). */
  priceRef?: string;
  /**
   * With `saved`, at a provider whose Billing renews it (Stripe): the cart's subscription line, which the
   * charge starts as the provider's own subscription (this charge its first invoice).
   */
  subscription?: ProviderSubscriptionLine;
  idempotencyKey: string;
}

/** A subscription line as a provider's Billing prices it: `amount` every `interval`. */
export interface ProviderSubscriptionLine {
  name: string;
  amount: number;
  interval: 'month' | 'year';
}

/** A payment method saved at a provider, named as that provider names it. */
export interface SavedMethodRef {
  providerCustomerRef: string;
  providerMethodRef: string;
}

export interface SaveMethodInput {
  merchantId: string;
  /** Our customer (`cus_…`). */
  customer: ProviderCustomer & { id: string };
  /** The provider's customer we already hold for this customer, if any (else the adapter creates one). */
  providerCustomerRef: string | null;
  token: string;
  idempotencyKey: string;
}

/** What we keep of a saved method: the provider's references and what a customer recognizes it by. */
export interface ProviderSavedMethod extends SavedMethodRef {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export type ProviderPaymentStatus = 'succeeded' | 'requires_action' | 'declined' | 'processing' | 'canceled';

export interface ProviderPayment {
  providerRef: string;
  status: ProviderPaymentStatus;
  amount: number;
  currency: string;
  amountRefunded: number;
  declineCode?: string;
  /** 3-D Secure or another customer step. */
  nextActionUrl?: string;
  /** A succeeded charge's settlement, when the provider's answer reports it (the simulator does). */
  settlement?: ProviderSettlement;
}

/**
 * A charge's settlement as its provider reports it (Stripe's balance transaction, the simulator's
 * books): its fee in the charge's currency and minor units, and when the money becomes available to us.
 */
export interface ProviderSettlement {
  status: 'pending' | 'available';
  fee: number;
  availableOn: Date;
}

export interface RefundInput {
  providerRef: string;
  amount: number;
  currency: string;
  idempotencyKey: string;
}

export interface ProviderRefund {
  providerRefundId: string;
  status: 'succeeded' | 'pending';
}

/** A refund's state at the provider: one answered `pending` settles later, either way. */
export type ProviderRefundStatus = 'succeeded' | 'pending' | 'failed';

/** What a verified webhook means, in our terms. */
export type ProviderEventKind =
  | 'checkout.completed'
  | 'checkout.attempt_failed'
  | 'checkout.expired'
  | 'payment.succeeded'
  | 'payment.failed'
  | 'payment.refunded'
  /** A dispute (chargeback) opened, changed or closed: its state is in `dispute`, as the provider shows it. */
  | 'dispute'
  /** A provider-managed subscription's renewal charged (money moved) or declined, by the provider on its own schedule. */
  | 'renewal.succeeded'
  | 'renewal.failed'
  /** A provider-managed subscription ended at the provider. */
  | 'subscription.canceled'
  | 'other';

/** Our dispute statuses (API.md); a provider's own status is kept beside it. */
export type DisputeStatus = 'needs_response' | 'under_review' | 'won' | 'lost';

/** A dispute as its provider shows it, in our terms. */
export interface ProviderDispute {
  providerDisputeId: string;
  /** The disputed charge (the payment's providerRef or one of its attempts'). */
  chargeRef: string;
  amount: number;
  currency: string;
  reason: string | null;
  status: DisputeStatus;
  providerStatus: string;
  evidenceDueBy: Date | null;
  /** The provider has taken the disputed amount (and fee) back from what it holds for us. */
  fundsWithdrawn: boolean;
  /** The provider has given the disputed amount back (a dispute won). */
  fundsReinstated: boolean;
  /** The provider's dispute fee, in the dispute's currency (0 when none or not reported). */
  fee: number;
}

export interface ProviderWebhookEvent {
  eventId: string;
  type: string;
  kind: ProviderEventKind;
  merchantId?: string;
  /** Our checkout session id, when the provider echoes it. */
  reference?: string;
  providerSessionId?: string;
  providerRef?: string;
  amount?: number;
  currency?: string;
  declineCode?: string;
  /** For kind `checkout.completed` of a session that saved the method: the method, as the provider's books show it. */
  savedMethod?: ProviderSavedMethod;
  /** For kind `dispute`: the dispute, as the event claims it (as the provider shows it once confirmed). */
  dispute?: ProviderDispute;
  /**
   * For `renewal.*` and `subscription.canceled`: the provider's charge that started the subscription (our
   * subscription's first payment's providerRef), as the provider's records show it once confirmed.
   */
  firstChargeRef?: string;
  /**
   * For `renewal.*`: what makes this charge attempt one of its own at the provider (the renewal payment's
   * key); the providerRef when absent. Stripe: its invoice (paid once) or the invoice's failed attempt.
   */
  chargeKey?: string;
  payload: unknown;
}

/** One record the provider holds, as a reconciliation run compares it with ours. */
export interface ProviderTransaction {
  providerRef: string;
  kind: 'charge' | 'refund' | 'dispute';
  /** Charges: our ProviderPaymentStatus; refunds: ProviderRefundStatus; disputes: DisputeStatus. */
  status: string;
  amount: number;
  /** Charges: how much of it the provider shows refunded (refunds that settled). */
  amountRefunded?: number;
  currency: string;
  /** Our payment id when the provider echoes it; for refunds and disputes: the charge's providerRef. */
  reference?: string | null;
  merchantId?: string | null;
  createdAt: Date;
}

/** A reconciliation window: records created at or after `from` and before `to`. */
export interface TransactionWindow {
  from: Date;
  to: Date;
  /**
   * Only this merchant's records: the simulator keeps them apart; the others by the merchant our metadata
   * names, a record without one being the platform merchant's (provider-listing.ts, belongsTo).
   */
  merchantId?: string;
}

export interface WebhookRequest {
  rawBody: Buffer;
  /** The client address (honours X-Forwarded-For only with TRUST_PROXY). */
  ip: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  params: Record<string, string>;
}

export interface PaymentProvider {
  readonly id: ProviderId;
  /** False when its credentials are not set: it is then not registered, and routing leaves it out. */
  readonly configured: boolean;
  createCheckout(input: CreateCheckoutInput): Promise<ProviderCheckout>;
  charge(input: ChargeInput): Promise<ProviderPayment>;
  /** The provider's record of a charge, by its ref or by the idempotency key we sent; null if it has none. */
  /** `reference`: our payment id, for providers that can only be searched by it (Mercado Pago). */
  retrieve(lookup: { providerRef?: string | null; idempotencyKey: string; reference?: string }): Promise<ProviderPayment | null>;
  refund(input: RefundInput): Promise<ProviderRefund>;
  /** Where a refund stands now (`providerRef`: the charge it refunds). One the provider does not show yet is pending. */
  retrieveRefund(lookup: { providerRef: string; providerRefundId: string }): Promise<ProviderRefundStatus>;
  /**
   * Cancels a charge that still waits on the customer (3-D Secure), so that it can no longer take money;
   * does nothing to one past that point (succeeded, declined, canceled): retrieve() tells which.
   */
  cancel(providerRef: string): Promise<void>;
  cancelCheckout(providerSessionId: string): Promise<void>;
  /**
   * Its hosted page can save the method while the customer pays (createCheckout's `saveMethod`), and the
   * completion event carries it (`savedMethod`). Without it, a checkout that must save is refused.
   */
  readonly savesOnHostedPage?: boolean;
  /** Saves a payment method at the provider for later charges without the customer (`charge` with `saved`). */
  saveMethod?(input: SaveMethodInput): Promise<ProviderSavedMethod>;
  /** Detaches a saved method at the provider: it can no longer be charged. */
  detachMethod?(ref: SavedMethodRef): Promise<void>;
  /** Ends a subscription the provider renews (`managedBy: "provider"`), named by the charge that started it. */
  cancelSubscription?(firstChargeRef: string): Promise<void>;
  /**
   * Optional: has the provider end it at its period end (`true`), or undo that (`false`); the provider's
   * cancellation event ends it here when the period is over. Without it, a cancel ends it now.
   */
  setCancelAtPeriodEnd?(firstChargeRef: string, cancel: boolean): Promise<void>;
  /** Optional: the saved method (of the same customer there) the provider renews it with from now on. */
  setSubscriptionMethod?(firstChargeRef: string, method: SavedMethodRef): Promise<void>;
  /** Verifies the signature on the raw body and maps the event; throws WebhookVerificationError. */
  parseWebhook(request: WebhookRequest): Promise<ProviderWebhookEvent>;
  /**
   * Optional: completes a stored event from the provider's API before it is applied (Mercado Pago's
   * notifications carry only an id; Segpay's postbacks must be confirmed by its reporting API). Runs in
   * the webhook worker, so a failure is retried with backoff. Throw WebhookVerificationError for an
   * event the provider does not confirm: it is then ignored.
   */
  confirmEvent?(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent>;
  /**
   * Optional: sends a merchant's evidence text for a dispute to the provider (Stripe). Providers without
   * it only have the text recorded here.
   */
  submitDisputeEvidence?(providerDisputeId: string, text: string): Promise<void>;
  /**
   * Optional: a succeeded charge's settlement (fee, availability), asked by the settlement job; null
   * while the provider does not report it yet. Providers without it leave payments' settlement null.
   */
  retrieveSettlement?(providerRef: string): Promise<ProviderSettlement | null>;
  /**
   * Optional: what the provider holds for a window, page by page (bounded pages, keyset paging), for
   * reconciliation. Providers without it are not reconciled.
   */
  listTransactions?(window: TransactionWindow): AsyncIterable<ProviderTransaction[]>;
}

export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderId,
    message: string,
    options?: { cause?: unknown; testToken?: boolean },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.testToken = options?.testToken ?? false;
  }

  /** The caller asked for this failure with a test token (the simulator's tok_processingError): no outage. */
  readonly testToken: boolean;
}

export class ProviderDeclineError extends ProviderError {
  constructor(
    provider: ProviderId,
    readonly declineCode: string,
    readonly providerRef?: string,
    message = `The card was declined (${declineCode}).`,
  ) {
    super(provider, message);
  }
}

export class ProviderUnavailableError extends ProviderError {}

export class ProviderUnknownOutcomeError extends ProviderError {}

/**
 * A status the provider's status table does not know (a value added to its API after our tables were
 * written). Never guessed: the payment or refund stays as it is, and a webhook carrying it fails and is
 * retried, then dead-lettered with this message, until the table learns the status.
 */
export class UnknownProviderStatusError extends ProviderError {
  constructor(
    provider: ProviderId,
    readonly table: string,
    readonly status: unknown,
  ) {
    super(provider, `${provider} reported ${table} status ${JSON.stringify(status)}, which Paybridge does not know`);
  }
}

/** `table[status]`, or UnknownProviderStatusError: the one run-time check behind every status table. */
export function mapStatus<S extends string, T>(provider: ProviderId, table: string, statuses: Readonly<Record<S, T>>, status: unknown): T {
  if (typeof status === 'string' && Object.prototype.hasOwnProperty.call(statuses, status)) return statuses[status as S];
  throw new UnknownProviderStatusError(provider, table, status);
}

export class WebhookVerificationError extends Error {
  constructor(
    message: string,
    /** 400 for a bad signature; 403 for a wrong secret path token (Segpay). */
    readonly status: 400 | 403 = 400,
  ) {
    super(message);
  }
}
