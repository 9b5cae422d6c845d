import { DomainError } from '../common/errors/domain-errors';
import type { Coupon, RedemptionReference } from './coupons.types';

/**
 * Why a coupon cannot be used (422, `param: code`). Four codes, the list:
 * - coupon_not_found: no coupon with this code for the merchant;
 * - coupon_expired: not usable at this time: past expiresAt, before startsAt, or deactivated (the
 *   message says which);
 * - coupon_exhausted: maxRedemptions reached (reserved + redeemed), or the customer's perCustomerLimit;
 * - coupon_not_applicable: nothing in the cart it can discount (scope, gift cards only), or a FLAT
 *   coupon in another currency than the cart.
 */
export type CouponErrorCode = 'coupon_not_found' | 'coupon_expired' | 'coupon_exhausted' | 'coupon_not_applicable';

export class CouponError extends DomainError {
  constructor(code: CouponErrorCode, message: string) {
    super('unprocessable', code, message, { param: 'code' });
  }
}

export function assertUsable(coupon: Coupon | null, rawCode: string, now: Date): asserts coupon is Coupon {
  if (!coupon) throw notFound(rawCode);
  if (!coupon.active) throw new CouponError('coupon_expired', `Coupon '${coupon.code}' is no longer active.`);
  if (coupon.startsAt && coupon.startsAt > now) {
    throw new CouponError('coupon_expired', `Coupon '${coupon.code}' is not valid before ${coupon.startsAt.toISOString()}.`);
  }
  if (coupon.expiresAt && coupon.expiresAt <= now) {
    throw new CouponError('coupon_expired', `Coupon '${coupon.code}' expired at ${coupon.expiresAt.toISOString()}.`);
  }
  if (looksExhausted(coupon)) throw exhausted(coupon);
}

export function notFound(rawCode: string): CouponError {
  return new CouponError('coupon_not_found', `No such coupon: '${rawCode.slice(0, 64)}'.`);
}

export function exhausted(coupon: Coupon): CouponError {
  return new CouponError('coupon_exhausted', `Coupon '${coupon.code}' has been used the maximum number of times.`);
}

export function customerLimitReached(coupon: Coupon): CouponError {
  return new CouponError('coupon_exhausted', `Coupon '${coupon.code}' has been used the maximum number of times by this customer.`);
}

/** maxRedemptions reached by the counts the coupon was read with (they may be stale in a cache). */
export function looksExhausted(coupon: Coupon): boolean {
  return coupon.maxRedemptions !== null && coupon.timesReserved + coupon.timesRedeemed >= coupon.maxRedemptions;
}

export function checkReference<T extends RedemptionReference>(ref: T): T {
  if (!ref.sessionId && !ref.paymentId) throw new Error('A coupon reservation needs a sessionId or a paymentId');
  return ref;
}

export function toDate(value: string | null | undefined): Date | null {
  return value === undefined || value === null ? null : new Date(value);
}
