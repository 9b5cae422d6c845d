import type { ProviderId } from '../payments/providers/payment-provider';

export const RUN_STATUSES = ['running', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** API.md, "Reconciliation": what a discrepancy is about. */
export const DISCREPANCY_KINDS = [
  'missing_locally',
  'missing_at_provider',
  'amount_mismatch',
  'currency_mismatch',
  'status_mismatch',
  'refund_mismatch',
  'dispute_unrecorded',
] as const;
export type DiscrepancyKind = (typeof DISCREPANCY_KINDS)[number];

export const DISCREPANCY_STATUSES = ['open', 'healed', 'resolved'] as const;
export type DiscrepancyStatus = (typeof DISCREPANCY_STATUSES)[number];

export interface ReconciliationRun {
  id: string;
  merchantId: string;
  status: RunStatus;
  provider: ProviderId;
  from: Date;
  to: Date;
  counts: { checked: number; matched: number; discrepancies: number; healed: number };
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface Discrepancy {
  id: string;
  merchantId: string;
  runId: string;
  kind: DiscrepancyKind;
  provider: ProviderId;
  providerRef: string;
  paymentId: string | null;
  refundId: string | null;
  expected: Record<string, unknown>;
  actual: Record<string, unknown>;
  status: DiscrepancyStatus;
  note: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A discrepancy the matching just found, with what healing needs to know. */
export interface FoundDiscrepancy extends Discrepancy {
  /** Succeeded at the provider, still open here (processing, requires_action): completed as a webhook would. */
  healable: boolean;
}
