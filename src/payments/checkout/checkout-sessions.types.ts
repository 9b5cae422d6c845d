import type { ProviderId } from '../providers/payment-provider';
import type { Line } from '../payments.types';

export type CheckoutStatus = 'open' | 'complete' | 'expired' | 'canceled';

export interface CheckoutSessionRow {
  merchant_id: string;
  id: string;
  status: CheckoutStatus;
  currency: string;
  subtotal: number;
  discount: number;
  gift_card_applied: number;
  total: number;
  lines: Line[];
  customer_id: string;
  customer_email: string;
  provider: ProviderId | null;
  provider_session_id: string | null;
  url: string | null;
  success_url: string;
  cancel_url: string;
  payment_id: string | null;
  metadata: Record<string, string>;
  idempotency_key: string | null;
  coupon_code: string | null;
  gift_card_code: string | null;
  save_payment_method: boolean;
  expires_at: Date;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
  provider_page_returns_to_hosted: boolean;
}

export interface CheckoutSession {
  id: string;
  merchantId: string;
  status: CheckoutStatus;
  url: string | null;
  /** Paybridge's own checkout page for this session (/pay/cs_…), added to every answer. */
  hostedUrl?: string;
  provider: ProviderId | null;
  providerSessionId: string | null;
  /** The provider's page was opened by the hosted checkout page (its decline link returns there). */
  providerPageReturnsToHosted: boolean;
  currency: string;
  subtotal: number;
  discount: number;
  giftCardApplied: number;
  total: number;
  lines: Line[];
  customer: { id: string; email: string };
  paymentId: string | null;
  successUrl: string;
  cancelUrl: string;
  metadata: Record<string, string>;
  couponCode: string | null;
  giftCardCode: string | null;
  /** The hosted page saves the method for later charges (a cart with subscriptions, or savePaymentMethod). */
  savePaymentMethod: boolean;
  expiresAt: Date;
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toCheckoutSession(row: CheckoutSessionRow): CheckoutSession {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    status: row.status,
    url: row.url,
    provider: row.provider,
    providerSessionId: row.provider_session_id,
    providerPageReturnsToHosted: row.provider_page_returns_to_hosted,
    currency: row.currency,
    subtotal: row.subtotal,
    discount: row.discount,
    giftCardApplied: row.gift_card_applied,
    total: row.total,
    lines: row.lines,
    customer: { id: row.customer_id, email: row.customer_email },
    paymentId: row.payment_id,
    successUrl: row.success_url,
    cancelUrl: row.cancel_url,
    metadata: row.metadata,
    couponCode: row.coupon_code,
    giftCardCode: row.gift_card_code,
    savePaymentMethod: row.save_payment_method,
    expiresAt: row.expires_at,
    completedAt: row.completed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
