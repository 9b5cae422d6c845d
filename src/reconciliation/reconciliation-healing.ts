import { Injectable, Logger } from '@nestjs/common';
import type { Transaction } from '../database/database.types';
import { CheckoutEvents } from '../payments/checkout/checkout-events';
import { PaymentOutcomes } from '../payments/outcomes/payment-outcomes';
import { PaymentJobs } from '../payments/payment-jobs';
import { PaymentsRepository } from '../payments/payments.repository';
import { ProviderRefunds } from '../payments/refunds/provider-refunds';
import { ReconciliationRepository } from './reconciliation.repository';
import type { Discrepancy, ReconciliationRun } from './reconciliation.types';

/** Open here, succeeded there: what a lost success webhook leaves, and what a webhook would complete. */
const HEALABLE_STATUSES = ['processing', 'requires_action', 'pending'];
export const HEALED_NOTE = 'healed by reconciliation';

type Run = Pick<ReconciliationRun, 'id' | 'merchantId' | 'provider'>;

/**
 * What a run does about what it found, through the paths the provider's own webhooks take:
 *   status_mismatch  succeeded there, open here (a lost success webhook): completed through the payment's
 *                    outcomes, as the recovery job resolves a payment; a hosted checkout's payment as its
 *                    completion webhook completes it.
 *   refund_mismatch  more refunded there than here (a lost refund webhook, a dashboard refund): booked as a
 *                    refund report is, the provider asked again first (ProviderRefunds.applyProviderEvent).
 *   missing_locally  money the provider holds that no payment accounts for: booked to suspense, once per
 *                    provider charge, in the transaction that records the discrepancy; it stays open.
 * Nothing else heals by itself: amounts and currencies that differ wait for an admin.
 */
@Injectable()
export class ReconciliationHealing {
  private readonly logger = new Logger(ReconciliationHealing.name);

  constructor(
    private readonly runs: ReconciliationRepository,
    private readonly jobs: PaymentJobs,
    private readonly payments: PaymentsRepository,
    private readonly outcomes: PaymentOutcomes,
    private readonly refunds: ProviderRefunds,
    private readonly checkoutEvents: CheckoutEvents,
  ) {}

  /**
   * Books each charge found missing here to suspense, inside the transaction that records the new
   * discrepancies (a discrepancy is recorded once per provider charge, ever: so is its booking). A second
   * charge of one of our payments is held under that payment (refund-unmatched-charge gives it back); a
   * charge no payment names, under the discrepancy.
   */
  async bookToSuspense(tx: Transaction, run: Run, found: Discrepancy[]): Promise<void> {
    const missing = found
      .filter((d) => d.kind === 'missing_locally')
      .sort((a, b) => String(a.paymentId).localeCompare(String(b.paymentId)));
    for (const d of missing) {
      const charge = { providerRef: d.providerRef, amount: Number(d.actual.amount), currency: String(d.actual.currency) };
      const payment = d.paymentId ? await this.payments.findByIdForUpdate(run.merchantId, d.paymentId, tx) : null;
      if (!payment) {
        await this.outcomes.strayCharge(tx, run.merchantId, d.id, run.provider, charge);
      } else if (await this.outcomes.unmatchedCharge(tx, payment, run.provider, charge)) {
        await this.payments.flagForReconciliation(
          run.merchantId,
          payment.id,
          'reconciliation found a charge the payment does not account for',
          { suspense: charge, discrepancyId: d.id },
          tx,
        );
      }
      this.logger.error(
        { discrepancyId: d.id, provider: run.provider, ...charge },
        'provider holds a charge no payment accounts for: booked to suspense',
      );
    }
  }

  /** Heals what is safe to heal (after the discrepancies are recorded); how many healed. */
  async heal(run: Run, found: Discrepancy[]): Promise<number> {
    let healed = 0;
    for (const d of found) {
      const settled = await this.healOne(run, d).catch((err: unknown) => {
        this.logger.warn({ err, discrepancyId: d.id }, 'discrepancy not healed');
        return false;
      });
      if (settled && (await this.runs.setStatus(run.merchantId, d.id, 'open', 'healed', HEALED_NOTE))) healed++;
    }
    return healed;
  }

  /**
   * A hosted checkout's payment (no attempt of ours to resolve) completes as its completion webhook would
   * complete it: the provider's record names the charge, with the amount and currency the matching found equal.
   */
  private async completeCheckout(run: Run, d: Discrepancy, note: Record<string, unknown>): Promise<boolean> {
    const payment = await this.payments.findById(run.merchantId, d.paymentId as string);
    if (!payment?.checkoutSessionId) return false;
    await this.checkoutEvents.applyEvent(run.provider, {
      eventId: `reconciliation:${d.id}`,
      type: 'reconciliation.status_mismatch',
      kind: 'checkout.completed',
      merchantId: run.merchantId,
      reference: payment.checkoutSessionId,
      providerRef: d.providerRef,
      amount: Number(d.actual.amount),
      currency: String(d.actual.currency),
      payload: null,
    });
    const after = await this.payments.findByProviderRef(run.merchantId, run.provider, d.providerRef);
    if (!after || after.status !== 'succeeded') return false;
    await this.payments.addTimelineEntry(run.merchantId, after.id, 'note', note);
    return true;
  }

  private async healOne(run: Run, d: Discrepancy): Promise<boolean> {
    if (!d.paymentId) return false;
    const note = { note: HEALED_NOTE, discrepancyId: d.id, runId: run.id, provider: run.provider, providerRef: d.providerRef };
    if (d.kind === 'status_mismatch' && d.actual.status === 'succeeded' && HEALABLE_STATUSES.includes(String(d.expected.status))) {
      if (await this.jobs.resolveFromProvider(run.merchantId, d.paymentId, note)) return true;
      return this.completeCheckout(run, d, note);
    }
    const refundedThere = Number(d.actual.amountRefunded ?? 0);
    if (d.kind === 'refund_mismatch' && refundedThere > Number(d.expected.amountRefunded ?? 0)) {
      await this.refunds.applyProviderEvent(run.provider, {
        eventId: `reconciliation:${d.id}`,
        type: 'reconciliation.refund_mismatch',
        kind: 'payment.refunded',
        merchantId: run.merchantId,
        providerRef: d.providerRef,
        payload: null,
      });
      const payment = await this.payments.findById(run.merchantId, d.paymentId);
      if (!payment || payment.amountRefunded < refundedThere) return false;
      await this.payments.addTimelineEntry(run.merchantId, d.paymentId, 'note', note);
      return true;
    }
    return false;
  }
}
