/**
 * Dunning (seed 002, Kill Bill's overdue states as configuration): what a failed renewal leads to. Pure
 * rules; SubscriptionBilling applies them. The schedule is snapshotted on the invoice when it first
 * fails, so a later change of DUNNING_RETRY_DAYS never moves retries already planned.
 */
const DAY_MS = 86_400_000;

/** Declines a retry cannot cure: the method itself is dead. Not retried until the customer changes it. */
export const HARD_DECLINES: ReadonlySet<string> = new Set([
  'expired_card',
  'stolen_card',
  'lost_card',
  'pickup_card',
  'restricted_card',
  'fraudulent',
  'invalid_payment_method',
  'invalid_account',
]);

export function isHardDecline(declineCode: string | null): boolean {
  return declineCode !== null && HARD_DECLINES.has(declineCode);
}

/** DUNNING_RETRY_DAYS ("1,3,7") as ascending whole days. */
export function parseRetryDays(value: string): number[] {
  return value
    .split(',')
    .map((d) => Number(d.trim()))
    .filter((d) => Number.isInteger(d) && d > 0)
    .sort((a, b) => a - b);
}

/** An unavailable provider is not the customer's fault: its attempt is tried again this much later, off the schedule. */
export const PROVIDER_DOWN_RETRY_MS = 3_600_000;

export interface DunningState {
  /** Declines so far on this invoice (attempts that reached the card network). */
  declines: number;
  firstFailedAt: Date;
  retryDays: number[];
  graceEndsAt: Date;
  hardDeclined: boolean;
}

/** The first decline of an invoice opens its dunning: the schedule in force now, and the grace period. */
export function openDunning(now: Date, retryDays: number[], graceDays: number): Omit<DunningState, 'declines' | 'hardDeclined'> {
  return { firstFailedAt: now, retryDays, graceEndsAt: new Date(now.getTime() + graceDays * DAY_MS) };
}

/**
 * When the invoice is retried next after its `declines`-th decline: the schedule's next day counted
 * from the first failure, or null (a hard decline, or the schedule spent).
 */
export function nextRetryAt(state: DunningState): Date | null {
  if (state.hardDeclined) return null;
  const day = state.retryDays[state.declines - 1];
  return day === undefined ? null : new Date(state.firstFailedAt.getTime() + day * DAY_MS);
}

/** When the renewal job must look at a past-due subscription again: its next retry, or its grace end if sooner (or none left). */
export function nextDunningDue(retryAt: Date | null, graceEndsAt: Date): Date {
  return retryAt && retryAt < graceEndsAt ? retryAt : graceEndsAt;
}
