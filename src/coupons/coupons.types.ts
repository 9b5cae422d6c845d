export const COUPON_TYPES = ['FLAT', 'PERCENTAGE'] as const;
export type CouponType = (typeof COUPON_TYPES)[number];

export const REDEMPTION_STATUSES = ['reserved', 'redeemed', 'released'] as const;
export type RedemptionStatus = (typeof REDEMPTION_STATUSES)[number];

/** A stored code: 3 to 64 characters, letters (upper case), digits, '-' and '_', starting with a letter or digit. */
export const COUPON_CODE_PATTERN = /^[A-Z0-9][A-Z0-9_-]{2,63}$/;

/** What a client typed → the stored form, or null when it cannot be a code (so: not found). */
export function normalizeCouponCode(raw: string): string | null {
  const code = raw.trim().toUpperCase();
  return COUPON_CODE_PATTERN.test(code) ? code : null;
}

export interface CouponRow {
  merchant_id: string;
  code: string;
  type: CouponType;
  amount_off: number | null;
  currency: string | null;
  percent_off: number | null;
  product_ids: string[];
  max_redemptions: number | null;
  per_customer_limit: number | null;
  starts_at: Date | null;
  expires_at: Date | null;
  active: boolean;
  reserved_count: number;
  redeemed_count: number;
  metadata: Record<string, string>;
  duration: CouponDuration;
  duration_in_months: number | null;
  created_at: Date;
  updated_at: Date;
}

/** How long a coupon discounts a subscription: its first invoice, its first months, or every invoice. */
export const COUPON_DURATIONS = ['once', 'repeating', 'forever'] as const;
export type CouponDuration = (typeof COUPON_DURATIONS)[number];

export interface Coupon {
  code: string;
  type: CouponType;
  /** FLAT: minor units of `currency`. */
  amountOff: number | null;
  currency: string | null;
  /** PERCENTAGE: whole percent, 1..100. */
  percentOff: number | null;
  /** Empty: the whole cart. */
  productIds: string[];
  maxRedemptions: number | null;
  perCustomerLimit: number | null;
  startsAt: Date | null;
  expiresAt: Date | null;
  active: boolean;
  /** Uses held by open checkouts and payments in flight. */
  timesReserved: number;
  /** Uses whose payment succeeded. */
  timesRedeemed: number;
  metadata: Record<string, string>;
  /** On subscriptions: once (the first invoice), repeating (durationInMonths), forever. */
  duration: CouponDuration;
  durationInMonths: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What create and update write. */
export type CouponFields = Omit<Coupon, 'code' | 'timesReserved' | 'timesRedeemed' | 'createdAt' | 'updatedAt'>;

export function toCoupon(row: CouponRow): Coupon {
  return {
    code: row.code,
    type: row.type,
    amountOff: row.amount_off,
    currency: row.currency,
    percentOff: row.percent_off,
    productIds: row.product_ids,
    maxRedemptions: row.max_redemptions,
    perCustomerLimit: row.per_customer_limit,
    startsAt: row.starts_at,
    expiresAt: row.expires_at,
    active: row.active,
    timesReserved: row.reserved_count,
    timesRedeemed: row.redeemed_count,
    metadata: row.metadata,
    duration: row.duration,
    durationInMonths: row.duration_in_months,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Which checkout session or direct payment a reservation belongs to (at least one). */
export interface RedemptionReference {
  sessionId?: string | null;
  paymentId?: string | null;
}

export interface CouponRedemptionRow {
  merchant_id: string;
  id: string;
  coupon_code: string;
  checkout_session_id: string | null;
  payment_id: string | null;
  customer_email: string;
  customer_id: string | null;
  status: RedemptionStatus;
  discount: number | null;
  currency: string | null;
  reserved_at: Date;
  redeemed_at: Date | null;
  released_at: Date | null;
}

export interface CouponRedemption {
  id: string;
  code: string;
  checkoutSessionId: string | null;
  paymentId: string | null;
  customerEmail: string;
  customerId: string | null;
  status: RedemptionStatus;
  discount: number | null;
  currency: string | null;
  reservedAt: Date;
  redeemedAt: Date | null;
  releasedAt: Date | null;
}

export function toCouponRedemption(row: CouponRedemptionRow): CouponRedemption {
  return {
    id: row.id,
    code: row.coupon_code,
    checkoutSessionId: row.checkout_session_id,
    paymentId: row.payment_id,
    customerEmail: row.customer_email,
    customerId: row.customer_id,
    status: row.status,
    discount: row.discount,
    currency: row.currency,
    reservedAt: row.reserved_at,
    redeemedAt: row.redeemed_at,
    releasedAt: row.released_at,
  };
}
