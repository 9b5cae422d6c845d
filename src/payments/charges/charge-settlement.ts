import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-errors';
import { errorResponse, successResponse } from '../../common/idempotency/idempotency.interceptor';
import type { StoredResponse } from '../../common/idempotency/idempotency.repository';
import type { PhasedOperation } from '../../common/idempotency/phased-operation';
import { errorForFailedPayment } from '../payment-errors';
import { PaymentOutcomes, PaymentRef } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import type { Attempt, Payment } from '../payments.types';
import type { ProviderPayment } from '../providers/payment-provider';

/** A failure a charge ends with: a decline, or no provider to take it. */
export interface ChargeFailure {
  code: 'card_declined' | 'provider_unavailable';
  message: string;
  declineCode?: string;
  providerRef?: string;
}

/** What a request for this payment answers: 201 with it, or the error of its failure. */
export function paymentResponse(payment: Payment, requestId: string): StoredResponse {
  if (payment.status === 'failed') return errorResponse(errorForFailedPayment(payment.failureCode, payment.declineCode), requestId);
  return successResponse(201, payment);
}

/**
 * The last phase of a direct charge: what the provider answered becomes the payment's outcome, and the
 * answer is stored for the operation's key, in one transaction. A payment settled meanwhile by someone
 * else (a webhook, the recovery job) is answered as it is.
 */
@Injectable()
export class ChargeSettlement {
  constructor(
    private readonly payments: PaymentsRepository,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  async charged(
    op: PhasedOperation,
    payment: PaymentRef,
    attempt: Pick<Attempt, 'id' | 'provider'>,
    result: ProviderPayment,
  ): Promise<Payment> {
    const settled = await op.finish(
      async (tx) => {
        const outcome = { attemptId: attempt.id, providerRef: result.providerRef };
        let after: Payment | null = null;
        if (result.status === 'succeeded') {
          const succeeded = { ...outcome, status: 'succeeded' as const };
          after = await this.outcomes.succeed(tx, payment, attempt.provider, result.providerRef, succeeded, {}, result.settlement);
        } else if (result.status === 'requires_action' && result.nextActionUrl) {
          const nextAction = { type: 'redirect_to_url' as const, url: result.nextActionUrl };
          after = await this.outcomes.requireAction(tx, payment, attempt.provider, result.providerRef, nextAction, {
            ...outcome,
            status: 'requires_action',
          });
        } else if (result.status === 'canceled') {
          const failure = {
            code: 'canceled_by_provider',
            message: 'The provider canceled the payment.',
            provider: attempt.provider,
            providerRef: result.providerRef,
          };
          after = await this.outcomes.fail(tx, payment, failure, { ...outcome, status: 'failed' });
        } else {
          // Still processing at the provider: its webhook or the recovery job settles it later.
          await this.payments.finishAttempt(payment.merchantId, payment.id, { ...outcome, status: 'pending' }, tx);
        }
        // Null: already settled by someone else (a webhook, the recovery job): answer with what it is.
        return after ?? ((await this.payments.findById(payment.merchantId, payment.id, tx)) as Payment);
      },
      (after) => paymentResponse(after, op.requestId),
    );
    if (settled.status === 'failed') throw errorForFailedPayment(settled.failureCode, settled.declineCode);
    return settled;
  }

  async failed(
    op: PhasedOperation,
    payment: PaymentRef,
    attempt: Pick<Attempt, 'id' | 'provider'>,
    failure: ChargeFailure,
  ): Promise<never> {
    const settled = await op.finish(
      async (tx) => {
        const attemptResult = {
          attemptId: attempt.id,
          status: failure.code === 'card_declined' ? ('declined' as const) : ('failed' as const),
          providerRef: failure.providerRef,
          errorCode: failure.declineCode ?? failure.code,
        };
        return (
          (await this.outcomes.fail(tx, payment, { ...failure, provider: attempt.provider }, attemptResult)) ??
          ((await this.payments.findById(payment.merchantId, payment.id, tx)) as Payment)
        );
      },
      (after) => paymentResponse(after, op.requestId),
    );
    // A concurrent settlement (webhook, recovery) may have won: answer with what the payment became.
    if (settled.status !== 'failed')
      throw new DomainError('conflict', 'payment_settled_elsewhere', `Payment ${settled.id} is ${settled.status}.`);
    throw errorForFailedPayment(settled.failureCode, settled.declineCode);
  }

  /** The gift card covered everything: no provider is involved (also what recovery runs for such a payment). */
  async paidByGiftCard(op: PhasedOperation, payment: PaymentRef): Promise<Payment> {
    return op.finish(
      async (tx) =>
        (await this.outcomes.succeed(tx, payment, null, null, null, { paidBy: 'gift_card' })) ??
        ((await this.payments.findById(payment.merchantId, payment.id, tx)) as Payment),
      (after) => paymentResponse(after, op.requestId),
    );
  }
}
