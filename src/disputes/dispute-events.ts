import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import { DatabaseService } from '../database/database.service';
import type { Transaction } from '../database/database.types';
import { OutboxRepository } from '../events/outbox.repository';
import { LedgerService } from '../ledger/ledger.service';
import { ACCOUNTS, type LedgerLine } from '../ledger/ledger.types';
import { HeldEventError } from '../payments/provider-event-matcher';
import { PaymentsRepository } from '../payments/payments.repository';
import type { Payment } from '../payments/payments.types';
import type { ProviderDispute, ProviderId, ProviderWebhookEvent } from '../payments/providers/payment-provider';
import { DisputesRepository } from './disputes.repository';
import { isClosed, type Dispute } from './disputes.types';

/**
 * Applies a dispute event, confirmed by its provider and matched to a payment of ours (ProviderEventsHandler,
 * ProviderEventMatcher), from the state the provider shows, not from which event it was: whatever order
 * and however often events come, the dispute row follows the provider, and each ledger posting (the
 * withdrawal, the fee, the reinstatement) is written once per dispute (postOnce under the payment's row
 * lock). The payment's status does not change: a dispute is a transaction of its own, on its timeline.
 */
@Injectable()
export class DisputeEvents {
  constructor(
    private readonly db: DatabaseService,
    private readonly disputes: DisputesRepository,
    private readonly payments: PaymentsRepository,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxRepository,
  ) {}

  async applyEvent(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed'> {
    const shown = event.dispute;
    const merchantId = event.merchantId;
    if (!shown || !merchantId) throw new HeldEventError(`${provider} ${event.type} names no dispute or merchant`);
    await this.db.transaction(async (tx) => {
      const found = await this.payments.findByProviderRef(merchantId, provider, shown.chargeRef, tx);
      const payment = found && (await this.payments.findByIdForUpdate(merchantId, found.id, tx));
      if (!payment)
        throw new HeldEventError(`${provider} ${event.type}: no payment of merchant ${merchantId} for charge ${shown.chargeRef}`);
      const known = await this.disputes.findByProviderRef(provider, shown.providerDisputeId, tx);
      if (known && known.merchantId !== merchantId)
        throw new HeldEventError(`${provider} dispute ${shown.providerDisputeId} belongs to another merchant`);
      const dispute = known
        ? await this.disputes.update(merchantId, known.id, shown, tx)
        : await this.disputes.insert({ id: newId('dp'), merchantId, paymentId: payment.id, provider }, shown, tx);
      if (!known) {
        await this.note(tx, dispute, 'opened', { reason: shown.reason, amount: shown.amount, evidenceDueBy: shown.evidenceDueBy });
        await this.outbox.insert([this.domainEvent(payment, dispute, 'dispute.created')], tx);
      } else if (known.status !== dispute.status) {
        await this.note(tx, dispute, 'status_changed', { from: known.status, to: dispute.status });
      }
      await this.book(tx, payment, dispute, shown);
      if (isClosed(dispute.status) && !(known && isClosed(known.status))) {
        await this.note(tx, dispute, 'closed', { outcome: dispute.status });
        await this.outbox.insert([this.domainEvent(payment, dispute, 'dispute.closed')], tx);
      }
    });
    return 'processed';
  }

  /**
   * The postings the provider's view calls for, each once: the withdrawal (debit disputes, credit what the
   * provider holds for us), its fee, and, when the funds came back, the reinstatement.
   */
  private async book(tx: Transaction, payment: Payment, dispute: Dispute, shown: ProviderDispute): Promise<void> {
    if (!shown.fundsWithdrawn) return;
    const receivable = ACCOUNTS.receivable(dispute.provider);
    const post = async (what: string, lines: LedgerLine[]) => {
      const booked = await this.ledger.postOnce(
        {
          merchantId: payment.merchantId,
          postingId: `${what}:${dispute.id}`,
          kind: what,
          currency: dispute.currency,
          paymentId: payment.id,
          lines,
        },
        tx,
      );
      if (booked) await this.note(tx, dispute, what, { amount: lines[0].amount });
    };
    await post('dispute_withdrawal', [
      { account: ACCOUNTS.disputes, direction: 'debit', amount: dispute.amount },
      { account: receivable, direction: 'credit', amount: dispute.amount },
    ]);
    if (shown.fee > 0)
      await post('dispute_fee', [
        { account: ACCOUNTS.disputeFees, direction: 'debit', amount: shown.fee },
        { account: receivable, direction: 'credit', amount: shown.fee },
      ]);
    if (shown.fundsReinstated)
      await post('dispute_reinstatement', [
        { account: receivable, direction: 'debit', amount: dispute.amount },
        { account: ACCOUNTS.disputes, direction: 'credit', amount: dispute.amount },
      ]);
  }

  private note(tx: Transaction, dispute: Dispute, what: string, detail: Record<string, unknown>): Promise<void> {
    return this.payments.addTimelineEntry(
      dispute.merchantId,
      dispute.paymentId,
      'note',
      { dispute: dispute.id, event: what, ...detail },
      tx,
    );
  }

  private domainEvent(payment: Payment, dispute: Dispute, type: 'dispute.created' | 'dispute.closed') {
    return {
      merchantId: payment.merchantId,
      type,
      // The payment's aggregate: its dispute's events are delivered in order with the payment's own.
      aggregateType: 'payment' as const,
      aggregateId: payment.id,
      data: {
        disputeId: dispute.id,
        paymentId: payment.id,
        provider: dispute.provider,
        amount: dispute.amount,
        currency: dispute.currency,
        reason: dispute.reason,
        status: dispute.status,
      },
    };
  }
}
