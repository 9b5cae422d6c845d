import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-errors';
import { Phases } from '../../common/idempotency/phased-operation';
import type { Transaction } from '../../database/database.types';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import type { Line, Payment } from '../payments.types';
import type { ProviderId } from '../providers/payment-provider';
import { ChargesService } from './charges.service';

/** A charge on a saved method without the customer (a renewal, a proration), as phase 1 records it. */
export interface SavedCharge {
  merchantId: string;
  paymentId: string;
  customerId: string;
  amount: number;
  currency: string;
  lines: Line[];
  discount: number;
  /** Derived from what it pays for (subscription, period, attempt): one payment per key. */
  idempotencyKey: string;
  paymentMethodId: string;
  provider: ProviderId;
}

/**
 * Charges on a saved method without the customer present (renewals, prorations), in the same atomic
 * phases as a direct charge: phase 1 is written in the caller's transaction (beside its invoice), then
 * the provider is called and the outcome settled by ChargesService, so the payment, its ledger posting,
 * timeline and events are those of any direct charge.
 */
@Injectable()
export class SavedCharges {
  constructor(
    private readonly charges: ChargesService,
    private readonly payments: PaymentsRepository,
    private readonly phases: Phases,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  /** The payment recorded under this idempotency key, if any (a request retried after a crash resumes it). */
  async findByKey(merchantId: string, idempotencyKey: string, executor?: Transaction): Promise<Payment | null> {
    return this.payments.findByIdempotencyKey(merchantId, idempotencyKey, executor);
  }

  /** Phase 1 of a saved-method charge (SavedCharge), in the caller's transaction: the payment (processing) and its attempt. */
  recordSavedCharge(tx: Transaction, charge: SavedCharge): void {
    const method = { provider: charge.provider, token: charge.paymentMethodId };
    tx.later(
      this.payments.insert(
        {
          merchantId: charge.merchantId,
          id: charge.paymentId,
          status: 'processing',
          amount: charge.amount,
          currency: charge.currency,
          provider: charge.provider,
          customer: { id: charge.customerId },
          checkoutSessionId: null,
          lines: charge.lines,
          discount: charge.discount,
          idempotencyKey: charge.idempotencyKey,
          retryOf: null,
          metadata: {},
        },
        this.charges.newAttempt(charge.paymentId, method, 1),
        tx,
      ),
    );
  }

  /**
   * A charge the provider made by itself on the saved method (a provider-managed subscription's renewal),
   * reported by a confirmed event: recorded as a saved-method charge and settled at once through
   * PaymentOutcomes, in the caller's transaction, so its posting, timeline and events are any charge's.
   * Once per idempotency key: the payment already recorded under it is answered as it is (nothing written).
   */
  async recordProviderCharge(
    tx: Transaction,
    charge: SavedCharge,
    result: { succeeded: boolean; providerRef: string; eventId: string; type: string; declineCode?: string },
    /** What the caller writes beside the payment before it settles (the invoice it pays). */
    beside: () => Promise<unknown>,
  ): Promise<{ payment: Payment; recorded: boolean }> {
    const earlier = await this.payments.findByIdempotencyKey(charge.merchantId, charge.idempotencyKey, tx);
    if (earlier) return { payment: earlier, recorded: false };
    this.recordSavedCharge(tx, charge);
    await beside();
    const payment = (await this.payments.findById(charge.merchantId, charge.paymentId, tx)) as Payment;
    const { provider, providerRef, eventId } = { provider: charge.provider, ...result };
    await this.payments.addTimelineEntry(charge.merchantId, payment.id, 'webhook', { provider, eventId, type: result.type }, tx);
    const settled = result.succeeded
      ? await this.outcomes.succeed(tx, payment, provider, providerRef, null, { eventId })
      : await this.outcomes.fail(
          tx,
          payment,
          {
            code: 'card_declined',
            message: `${provider} declined the renewal.`,
            declineCode: result.declineCode ?? 'generic_decline',
            provider,
            providerRef,
          },
          null,
        );
    return { payment: settled ?? payment, recorded: true };
  }

  /**
   * Phases 2 and 3 of a saved-method charge recorded by recordSavedCharge: the provider is called under
   * the attempt's key (a repeated call, after a crash, is answered with the first charge) and the outcome
   * settled, nobody waiting. Answers the payment as it ends; a decline or an unavailable provider is a
   * failed payment (its outcome hooks ran), not an error.
   */
  async chargeSaved(merchantId: string, paymentId: string): Promise<Payment | null> {
    const payment = await this.payments.findById(merchantId, paymentId);
    const attempt = await this.payments.latestAttempt(merchantId, paymentId);
    if (!payment || !attempt || payment.status !== 'processing') return payment;
    try {
      return await this.charges.charge(
        this.phases.detached(),
        payment,
        payment.lines ?? [],
        [await this.charges.methodOf(merchantId, attempt)],
        attempt,
        undefined,
      );
    } catch (err) {
      if (err instanceof DomainError && err.kind !== 'conflict') return this.payments.findById(merchantId, paymentId);
      throw err;
    }
  }
}
