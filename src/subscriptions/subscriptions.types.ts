import type { ProviderId } from '../payments/providers/payment-provider';

export const SUBSCRIPTION_STATUSES = ['incomplete', 'active', 'past_due', 'canceled', 'unpaid'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export type BillingInterval = 'month' | 'year';
export type InvoiceStatus = 'open' | 'paid' | 'void' | 'uncollectible';
export type InvoiceKind = 'first' | 'renewal' | 'proration';

/** Providers whose subscriptions Paybridge renews by charging the saved method (the others renew by themselves). */
export const PAYBRIDGE_RENEWED: readonly ProviderId[] = ['simulator', 'mercadopago'];
/** Providers that renew subscriptions by themselves and tell us (ProviderSubscriptionEvents). */
export const PROVIDER_RENEWED: readonly ProviderId[] = ['segpay', 'stripe'];

export interface SubscriptionRow {
  merchant_id: string;
  id: string;
  customer_id: string;
  customer_email: string;
  product_id: string;
  quantity: number;
  provider: ProviderId;
  managed_by: 'provider' | 'paybridge';
  status: SubscriptionStatus;
  amount: number;
  currency: string;
  interval: BillingInterval;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  canceled_at: Date | null;
  payment_method_id: string | null;
  latest_invoice_id: string | null;
  first_payment_id: string;
  pending_product_id: string | null;
  pending_amount: number | null;
  coupon_code: string | null;
  renewal_discount: number;
  discount_ends_at: Date | null;
  next_due_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** Of the latest invoice (joined). */
  invoice_attempts: number | null;
  invoice_next_retry_at: Date | null;
  invoice_grace_ends_at: Date | null;
}

export interface InvoiceRow {
  merchant_id: string;
  id: string;
  subscription_id: string;
  kind: InvoiceKind;
  status: InvoiceStatus;
  amount: number;
  discount: number;
  currency: string;
  period_start: Date;
  period_end: Date;
  attempts: number;
  declines: number;
  retry_days: number[] | null;
  first_failed_at: Date | null;
  grace_ends_at: Date | null;
  next_retry_at: Date | null;
  hard_declined: boolean;
  payment_id: string | null;
  change_product_id: string | null;
  change_amount: number | null;
  created_at: Date;
}

/** A subscription as the API shows it (API.md, Subscriptions). */
export function subscriptionView(row: SubscriptionRow) {
  const dunning =
    row.status === 'past_due' || row.status === 'unpaid'
      ? { attempt: row.invoice_attempts ?? 0, nextRetryAt: row.invoice_next_retry_at, graceEndsAt: row.invoice_grace_ends_at }
      : undefined;
  return {
    id: row.id,
    status: row.status,
    productId: row.product_id,
    quantity: row.quantity,
    customer: { id: row.customer_id, email: row.customer_email },
    provider: row.provider,
    managedBy: row.managed_by,
    amount: row.amount,
    currency: row.currency,
    interval: row.interval,
    currentPeriodStart: row.current_period_start,
    currentPeriodEnd: row.current_period_end,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    canceledAt: row.canceled_at,
    paymentMethodId: row.payment_method_id,
    latestInvoiceId: row.latest_invoice_id,
    pendingProductId: row.pending_product_id,
    ...(dunning ? { dunning } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
export type SubscriptionView = ReturnType<typeof subscriptionView>;

export function invoiceView(row: InvoiceRow) {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    kind: row.kind,
    status: row.status,
    amount: row.amount,
    discount: row.discount,
    currency: row.currency,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    attempts: row.attempts,
    nextRetryAt: row.next_retry_at,
    paymentId: row.payment_id,
    createdAt: row.created_at,
  };
}

/** A period's end: `start` plus one interval (Postgres month arithmetic: Jan 31 + 1 month = Feb 28/29). */
export const INTERVAL_SQL: Record<BillingInterval, string> = { month: '1 month', year: '1 year' };
