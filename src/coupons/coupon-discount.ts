import type { CouponType } from './coupons.types';

/**
 * The discount a coupon gives a cart: pure, integer-only (BigInt inside, so products of two large amounts
 * never lose precision), the same for every currency exponent because amounts are already minor units.
 *
 * Rules:
 * - A line is eligible when it is not a gift card, its amount is above zero and, for a coupon scoped to
 *   products, its product is one of them (ad hoc lines without a product are eligible only for an
 *   unscoped coupon). No eligible line: the coupon is not applicable.
 * - PERCENTAGE: each eligible line gets amount × percentOff / 100, rounded half up to the minor unit
 *   (`(amount × percentOff + 50) div 100`); the total is the sum of the lines. A line never gets more
 *   than its amount (percentOff ≤ 100).
 * - FLAT: only in its own currency (another cart currency: not applicable). The discount is
 *   min(amountOff, eligible total), spread over the eligible lines in proportion to their amounts by
 *   the largest-remainder method: each line gets floor(discount × amount / eligible total), and the
 *   minor units still missing go one each to the lines with the largest remainders (ties: the earlier
 *   line). Shares add up exactly to the discount and never exceed their line.
 * - Ineligible lines get 0. Nothing is ever negative, per line or in total.
 */
export interface DiscountLineInput {
  productId: string | null;
  /** unitAmount × quantity, minor units. */
  amount: number;
  productType: 'STANDARD' | 'GIFT_CARD' | null;
}

export interface DiscountRule {
  type: CouponType;
  amountOff: number | null;
  currency: string | null;
  percentOff: number | null;
  /** Empty: the whole cart. */
  productIds: readonly string[];
}

export type NotApplicableReason = 'currency_mismatch' | 'no_eligible_lines';

export type DiscountOutcome =
  | { applicable: true; lineDiscounts: number[]; total: number }
  | { applicable: false; reason: NotApplicableReason };

export function computeDiscount(rule: DiscountRule, lines: readonly DiscountLineInput[], currency: string): DiscountOutcome {
  for (const line of lines) {
    if (!Number.isSafeInteger(line.amount) || line.amount < 0)
      throw new Error(`Line amounts must be non-negative integers, got ${line.amount}`);
  }
  if (rule.type === 'FLAT' && rule.currency !== currency) return { applicable: false, reason: 'currency_mismatch' };

  const scope = new Set(rule.productIds);
  const eligible = lines.map((line) => isEligible(line, scope));
  const eligibleTotal = lines.reduce((sum, line, i) => (eligible[i] ? sum + BigInt(line.amount) : sum), 0n);
  if (eligibleTotal === 0n) return { applicable: false, reason: 'no_eligible_lines' };

  const discounts =
    rule.type === 'PERCENTAGE'
      ? percentageShares(lines, eligible, checkedInteger(rule.percentOff, 1, 100, 'percentOff'))
      : flatShares(lines, eligible, eligibleTotal, checkedInteger(rule.amountOff, 1, Number.MAX_SAFE_INTEGER, 'amountOff'));
  const lineDiscounts = discounts.map(Number);
  return { applicable: true, lineDiscounts, total: lineDiscounts.reduce((sum, d) => sum + d, 0) };
}

function isEligible(line: DiscountLineInput, scope: ReadonlySet<string>): boolean {
  if (line.productType === 'GIFT_CARD' || line.amount === 0) return false;
  if (scope.size === 0) return true;
  return line.productId !== null && scope.has(line.productId);
}

function percentageShares(lines: readonly DiscountLineInput[], eligible: boolean[], percentOff: number): bigint[] {
  const percent = BigInt(percentOff);
  // Round half up: BigInt division truncates, and every operand is non-negative.
  return lines.map((line, i) => (eligible[i] ? (BigInt(line.amount) * percent + 50n) / 100n : 0n));
}

function flatShares(lines: readonly DiscountLineInput[], eligible: boolean[], eligibleTotal: bigint, amountOff: number): bigint[] {
  const discount = BigInt(amountOff) < eligibleTotal ? BigInt(amountOff) : eligibleTotal;
  const shares = lines.map((line, i) => (eligible[i] ? (discount * BigInt(line.amount)) / eligibleTotal : 0n));
  let missing = discount - shares.reduce((sum, s) => sum + s, 0n);
  const byRemainder = lines
    .map((line, i) => ({ i, remainder: eligible[i] ? (discount * BigInt(line.amount)) % eligibleTotal : -1n }))
    .filter((entry) => entry.remainder > 0n)
    .sort((a, b) => (a.remainder === b.remainder ? a.i - b.i : a.remainder > b.remainder ? -1 : 1));
  // Fewer than one unit per line is missing (each floor lost less than one), so one pass suffices.
  for (const { i } of byRemainder) {
    if (missing === 0n) break;
    shares[i] += 1n;
    missing -= 1n;
  }
  return shares;
}

function checkedInteger(value: number | null, min: number, max: number, name: string): number {
  if (value === null || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}
