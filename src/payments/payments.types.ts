import type { ConvertedFrom, FxSnapshot } from '../fx/fx.types';
import type { ProviderId, ProviderSettlement } from './providers/payment-provider';

export const PAYMENT_STATUSES = [
  'pending',
  'processing',
  'requires_action',
  'succeeded',
  'failed',
  'canceled',
  'partially_refunded',
  'refunded',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export interface Line {
  productId: string | null;
  name: string;
  unitAmount: number;
  quantity: number;
  /** unitAmount × quantity */
  amount: number;
  productType: 'STANDARD' | 'GIFT_CARD' | null;
  image?: string | null;
  /** The coupon's share of this line (minor units). */
  discount?: number;
  /** A converted line: its product's price it was converted from (the rate is the payment's `fx`). */
  convertedFrom?: ConvertedFrom;
  /** A subscription product's billing interval: the line starts (or renews) a subscription. */
  interval?: 'month' | 'year';
  /** The product's own Segpay price point (`package:pricepoint`), which a Segpay charge for it sells through. */
  segpayPricePoint?: string;
}

/** A charge's settlement at its provider (README, "Settlement and fees"). */
export interface PaymentSettlement {
  status: 'pending' | 'available';
  availableOn: Date;
  /** The provider's fee, minor units of the payment's currency; booked to `provider_fees`. */
  fee: number;
}

export interface NextAction {
  type: 'redirect_to_url';
  url: string;
}

export interface PaymentRow {
  merchant_id: string;
  id: string;
  status: PaymentStatus;
  amount: number;
  amount_refunded: number;
  amount_refund_pending: number;
  currency: string;
  provider: ProviderId | null;
  provider_ref: string | null;
  customer_id: string;
  customer_email: string;
  checkout_session_id: string | null;
  lines: Line[] | null;
  discount: number;
  failure_code: string | null;
  failure_message: string | null;
  decline_code: string | null;
  next_action: NextAction | null;
  idempotency_key: string | null;
  retry_of: string | null;
  metadata: Record<string, string>;
  return_url: string | null;
  settlement_status: PaymentSettlement['status'] | null;
  settlement_fee: number | null;
  settlement_available_on: Date | null;
  coupon_code: string | null;
  gift_card_code: string | null;
  gift_card_amount: number;
  fx: FxSnapshot | null;
  created_at: Date;
  updated_at: Date;
}

export interface Payment {
  /** What GET /transactions lists beside disputes (`kind: "dispute"`). */
  kind: 'payment';
  id: string;
  merchantId: string;
  status: PaymentStatus;
  amount: number;
  amountRefunded: number;
  currency: string;
  provider: ProviderId | null;
  providerRef: string | null;
  customer: { id: string; email: string };
  checkoutSessionId: string | null;
  lines: Line[] | null;
  discount: number;
  failureCode: string | null;
  failureMessage: string | null;
  declineCode: string | null;
  nextAction: NextAction | null;
  retryOf: string | null;
  metadata: Record<string, string>;
  returnUrl: string | null;
  couponCode: string | null;
  /** The part paid by a gift card; the provider is charged amount - giftCardAmount. */
  giftCardCode: string | null;
  giftCardAmount: number;
  /** Held by refunds in flight. */
  amountRefundPending: number;
  /** The conversion rate its converted lines were priced with; null when nothing was converted. */
  fx: FxSnapshot | null;
  /** The provider's fee and when the money is available to us, once the provider reports them (null before, or never). */
  settlement: PaymentSettlement | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toPayment(row: PaymentRow): Payment {
  return {
    kind: 'payment',
    id: row.id,
    merchantId: row.merchant_id,
    status: row.status,
    amount: row.amount,
    amountRefunded: row.amount_refunded,
    currency: row.currency,
    provider: row.provider,
    providerRef: row.provider_ref,
    customer: { id: row.customer_id, email: row.customer_email },
    checkoutSessionId: row.checkout_session_id,
    lines: row.lines,
    discount: row.discount,
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    declineCode: row.decline_code,
    nextAction: row.next_action,
    retryOf: row.retry_of,
    metadata: row.metadata,
    returnUrl: row.return_url,
    couponCode: row.coupon_code,
    giftCardCode: row.gift_card_code,
    giftCardAmount: row.gift_card_amount,
    amountRefundPending: row.amount_refund_pending,
    fx: row.fx ?? null,
    settlement:
      row.settlement_status && row.settlement_available_on
        ? { status: row.settlement_status, availableOn: row.settlement_available_on, fee: Number(row.settlement_fee ?? 0) }
        : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export type AttemptStatus = 'pending' | 'succeeded' | 'requires_action' | 'declined' | 'failed' | 'unknown';

export interface Attempt {
  id: string;
  paymentId: string;
  provider: ProviderId;
  providerKey: string;
  paymentMethod: string | null;
  status: AttemptStatus;
  providerRef: string | null;
}

export interface TimelineEntry {
  kind: 'status_changed' | 'attempt' | 'webhook' | 'refund' | 'note';
  fromStatus: string | null;
  toStatus: string | null;
  detail: Record<string, unknown>;
  createdAt: Date;
}

/** Fields a status change may set at the same time. */
export interface TransitionChanges {
  provider?: ProviderId;
  providerRef?: string | null;
  failureCode?: string | null;
  failureMessage?: string | null;
  declineCode?: string | null;
  nextAction?: NextAction | null;
  /** The provider took the money: the settlement job is to ask it for the fee and availability (settlement_check_at). */
  settlementDue?: boolean;
  /** …unless the provider's answer already reported the settlement: recorded at once. */
  settlement?: ProviderSettlement | null;
}

export interface AttemptResult {
  attemptId: string;
  status: AttemptStatus;
  providerRef?: string | null;
  errorCode?: string | null;
}
