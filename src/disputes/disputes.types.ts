import type { DisputeStatus, ProviderId } from '../payments/providers/payment-provider';

export const DISPUTE_STATUSES: readonly DisputeStatus[] = ['needs_response', 'under_review', 'won', 'lost'];

/** A dispute (chargeback) as the API shows it (API.md, Disputes). */
export interface Dispute {
  id: string;
  merchantId: string;
  paymentId: string;
  provider: ProviderId;
  /** The provider's dispute id. */
  providerRef: string;
  /** The disputed charge at the provider. */
  chargeRef: string;
  amount: number;
  currency: string;
  reason: string | null;
  status: DisputeStatus;
  /** The provider's own status (Stripe's `warning_needs_response`, …). */
  providerStatus: string;
  evidenceDueBy: Date | null;
  evidenceSubmittedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const isClosed = (status: DisputeStatus): boolean => status === 'won' || status === 'lost';

/** What the API shows of a dispute (its merchant and evidence text stay inside); `kind` as GET /transactions lists it. */
export function disputeView(dispute: Dispute) {
  const { merchantId: _merchantId, ...shown } = dispute;
  return { kind: 'dispute' as const, ...shown };
}
