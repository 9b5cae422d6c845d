import type { CheckoutStatus } from '../../payments/checkout/checkout-sessions.types';
import type { PaymentStatus } from '../../payments/payments.types';
import type { Locale } from '../locale';

/** What GET /pay/:sessionId/session answers: everything the page shows, amounts in minor units. */
export interface CheckoutView {
  id: string;
  status: CheckoutStatus;
  locale: Locale;
  currency: string;
  /** The currency's minor-unit exponent: the page formats amount / 10^exponent with Intl.NumberFormat. */
  exponent: number;
  lines: Array<{ name: string; quantity: number; unitAmount: number; amount: number; discount: number; interval: 'month' | 'year' | null }>;
  subtotal: number;
  discount: number;
  giftCardApplied: number;
  total: number;
  couponCode: string | null;
  giftCardLast4: string | null;
  providers: string[];
  provider: string | null;
  successUrl: string;
  cancelUrl: string;
  /** The session's current payment: `failed` with a declineCode after a declined attempt. */
  payment: { status: PaymentStatus; declineCode: string | null } | null;
  expiresAt: Date;
}
