import type { PaymentStatus } from '../payments.types';

/**
 * Every allowed status change, in one place. Nothing moves backwards: a late or repeated webhook that
 * would (succeeded → processing, failed → succeeded) is refused by the conditional UPDATE that uses
 * `sourcesOf`, and so changes nothing.
 */
const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  pending: ['processing', 'requires_action', 'succeeded', 'failed', 'canceled'],
  processing: ['requires_action', 'succeeded', 'failed', 'canceled'],
  requires_action: ['succeeded', 'failed', 'canceled'],
  succeeded: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  failed: [],
  canceled: [],
  refunded: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses whose charge has settled: the only ones a refund applies to. */
export const SETTLED: readonly PaymentStatus[] = ['succeeded', 'partially_refunded', 'refunded'];

/** Statuses whose charge is still on its way: it may yet succeed. */
export function isOpen(status: PaymentStatus): boolean {
  return canTransition(status, 'succeeded');
}

/** The statuses a payment may be in for `to` to be reached. */
export function sourcesOf(to: PaymentStatus): PaymentStatus[] {
  return (Object.keys(TRANSITIONS) as PaymentStatus[]).filter((from) => TRANSITIONS[from].includes(to));
}
