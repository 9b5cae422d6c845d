import { mapStatus, type DisputeStatus, type ProviderDispute, type ProviderWebhookEvent } from '../payment-provider';
import { eventAmount, type Expandable, fromStripeAmount, idOf } from './stripe-amounts';

/** Stripe's Dispute object as its webhooks and API carry it: the fields we read. */
export interface DisputeObject {
  metadata?: Record<string, string> | null;
  id: string;
  charge?: Expandable;
  payment_intent?: Expandable;
  amount?: number;
  currency?: string;
  reason?: string | null;
  status?: string;
  evidence_details?: { due_by?: number | null } | null;
  balance_transactions?: Array<{ amount?: number; fee?: number; currency?: string }> | null;
}

type Mapped = Omit<ProviderWebhookEvent, 'eventId' | 'type' | 'payload'>;

/** Stripe's dispute statuses in ours: an inquiry (`warning_…`) as the stage it is at; one closed without a chargeback is won. */
/** Every Dispute status (https://docs.stripe.com/api/disputes/object#dispute_object-status). */
export type StripeDisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost'
  | 'prevented';

export const STRIPE_DISPUTE_STATUSES: Readonly<Record<StripeDisputeStatus, DisputeStatus>> = {
  warning_needs_response: 'needs_response',
  warning_under_review: 'under_review',
  warning_closed: 'won',
  needs_response: 'needs_response',
  under_review: 'under_review',
  won: 'won',
  lost: 'lost',
  prevented: 'won',
};

/**
 * A dispute in our terms. The money moved is read from its balance transactions, not its status: a
 * negative one took the amount (and the fee) back, a positive one reinstated it.
 */
export function toProviderDispute(dispute: DisputeObject): ProviderDispute | undefined {
  const { amount, currency } = eventAmount(dispute.amount, dispute.currency);
  const chargeRef = idOf(dispute.payment_intent) ?? idOf(dispute.charge);
  if (amount === undefined || !currency || !chargeRef) return undefined;
  const transactions = dispute.balance_transactions ?? [];
  const withdrawals = transactions.filter((t) => (t.amount ?? 0) < 0);
  const fee = withdrawals.reduce((sum, t) => sum + (t.fee ?? 0), 0);
  const dueBy = dispute.evidence_details?.due_by;
  return {
    providerDisputeId: dispute.id,
    chargeRef,
    amount,
    currency,
    reason: dispute.reason ?? null,
    status: mapStatus('stripe', 'dispute', STRIPE_DISPUTE_STATUSES, dispute.status),
    providerStatus: dispute.status ?? 'unknown',
    evidenceDueBy: typeof dueBy === 'number' ? new Date(dueBy * 1000) : null,
    fundsWithdrawn: withdrawals.length > 0,
    fundsReinstated: transactions.some((t) => (t.amount ?? 0) > 0),
    fee: fee > 0 ? fromStripeAmount(fee, currency) : 0,
  };
}

export function disputeEvent(dispute: DisputeObject): Mapped {
  return {
    kind: 'dispute',
    providerRef: idOf(dispute.payment_intent) ?? idOf(dispute.charge),
    ...eventAmount(dispute.amount, dispute.currency),
    dispute: toProviderDispute(dispute),
  };
}

/** The dispute events (all confirmed by retrieving the dispute before use). */
export const isDisputeEventType = (type: string): boolean => type.startsWith('charge.dispute.');
