import { Injectable, Logger } from '@nestjs/common';
import type { AuthContext } from '../../auth/auth.types';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import { newId } from '../../common/ids';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { errorResponse, successResponse } from '../../common/idempotency/idempotency.interceptor';
import type { StoredResponse } from '../../common/idempotency/idempotency.repository';
import { PhasedOperation, Phases } from '../../common/idempotency/phased-operation';
import { DatabaseService } from '../../database/database.service';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import type { RefundDto } from '../dto/checkout.dto';
import { OutcomeUnknownError, ProvidersUnavailableError } from '../payment-errors';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import type { Payment } from '../payments.types';
import { ProviderDeclineError, ProviderId, ProviderUnavailableError, ProviderUnknownOutcomeError } from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { boughtGiftCard, ProviderRefundBook } from './provider-refund-book';
import { Refund, RefundsRepository } from './refunds.repository';

const REFUND_CREATED = 'refund_created';

/**
 * Refunds in phases, like charges: (1) one transaction holds the amount on the payment (a conditional
 * UPDATE: racing refunds can never exceed what was captured) and records the refund as pending;
 * (2) the provider refunds under the refund's id as idempotency key; (3) one transaction settles the
 * refund, the payment's refunded amount and status, the ledger and the outbox (PhasedOperation's record
 * and finish). Refunds made at the provider (its dashboard) are recorded from what the provider shows
 * refunded (ProviderRefunds).
 */
/** A refund's outcome at the provider; `refundedNow`, for a failed one: what the provider shows refunded now. */
interface RefundOutcome {
  status: 'succeeded' | 'failed';
  providerRef?: string | null;
  failureCode?: string | null;
  refundedNow?: number;
}

@Injectable()
export class RefundsService {
  private readonly logger = new Logger(RefundsService.name);

  constructor(
    private readonly db: DatabaseService,
    private readonly phases: Phases,
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly registry: ProviderRegistry,
    private readonly outcomes: PaymentOutcomes,
    private readonly holds: GiftCardHolds,
    private readonly book: ProviderRefundBook,
  ) {}

  async refund(caller: AuthContext, paymentId: string, dto: RefundDto, idem: IdempotencyContext): Promise<Refund> {
    const merchantId = caller.merchantId;
    const op = this.phases.live(idem);
    if (op.resumesFrom(REFUND_CREATED)) {
      const pending = await this.refunds.findByIdempotencyKey(merchantId, op.key);
      if (!pending) throw new DomainError('conflict', 'idempotency_state_invalid', 'This key has no refund to resume.');
      // Settled meanwhile (the recovery job), or taken by the provider to settle later: answer with it,
      // never send it again.
      if (pending.status !== 'pending' || pending.providerRef) {
        await op.answer(this.responseFor(pending, op.requestId));
        if (pending.status === 'failed') throw this.failureError(pending);
        return pending;
      }
      return this.execute(op, merchantId, pending, false);
    }
    const refundId = newId('re');
    const refund = await op.record(REFUND_CREATED, async (tx) => {
      const payment = await this.payments.findById(merchantId, paymentId, tx);
      if (!payment) throw new NotFoundError('payment', paymentId);
      const remaining = payment.amount - payment.amountRefunded - payment.amountRefundPending;
      const amount = dto.amount ?? remaining;
      if (boughtGiftCard(payment)) {
        // The card it bought would stay spendable: refunding it needs the card canceled first (not built).
        throw new DomainError(
          'unprocessable',
          'gift_card_purchase_not_refundable',
          'A payment that bought a gift card cannot be refunded here.',
          { param: 'id' },
        );
      }
      const reserved = amount > 0 ? await this.payments.reserveRefund(merchantId, paymentId, amount, tx) : null;
      if (!reserved) throw this.refusal(payment, amount);
      const providerRefunded = await this.refunds.providerPart(merchantId, paymentId, ['pending', 'succeeded'], tx);
      const toCard = giftCardShare(reserved, amount, providerRefunded);
      // The card part must fit back on an active card; refused now, before any provider is called.
      if (toCard > 0 && !(await this.holds.canTakeBack(merchantId, reserved.giftCardCode as string, toCard, tx))) {
        throw new DomainError(
          'unprocessable',
          'gift_card_credit_refused',
          'The gift card that paid this cannot take the amount back (expired or canceled).',
          {
            param: 'amount',
          },
        );
      }
      await this.refunds.insert(
        {
          merchantId,
          id: refundId,
          paymentId,
          amount,
          currency: payment.currency,
          reason: dto.reason ?? null,
          origin: 'api',
          provider: payment.provider ?? 'gift_card',
          idempotencyKey: op.key,
          giftCardAmount: toCard,
          status: 'pending',
        },
        tx,
      );
      return (await this.refunds.findById(merchantId, refundId, tx)) as Refund;
    });
    return this.execute(op, merchantId, refund, true);
  }

  /**
   * Phases 2 and 3; also what the recovery job runs for a refund left pending.
   * `firstAttempt`: this is the first call for the refund. A later one (a retry, the recovery job)
   * follows an attempt whose outcome is unknown, so "unavailable" now does not prove nothing happened.
   */
  async execute(op: PhasedOperation, merchantId: string, refund: Refund, firstAttempt = false): Promise<Refund> {
    const payment = (await this.payments.findById(merchantId, refund.paymentId)) as Payment;
    const providerAmount = refund.amount - refund.giftCardAmount;
    if (providerAmount === 0) return this.settle(payment, refund, { status: 'succeeded' }, op); // wholly back to the gift card
    try {
      const result = await this.registry.get(refund.provider).refund({
        providerRef: payment.providerRef as string,
        amount: providerAmount,
        currency: refund.currency,
        idempotencyKey: refund.id,
      });
      if (result.status === 'pending') return await this.sent(op, payment, refund, result.providerRefundId);
      return await this.settle(payment, refund, { status: 'succeeded', providerRef: result.providerRefundId }, op);
    } catch (err) {
      if (err instanceof ProviderDeclineError) {
        // While held, this refund may have hidden refunds made at the provider (bookRefundsMadeAtProvider):
        // the provider answers, so it is asked what it shows refunded; if it cannot say, its next report does.
        const refundedNow = await this.book
          .refundedTotal(payment.provider as ProviderId, payment.providerRef as string, payment.id)
          .catch(() => null);
        return this.settle(payment, refund, { status: 'failed', failureCode: 'refund_refused', refundedNow: refundedNow?.amount }, op);
      }
      if (err instanceof ProviderUnavailableError) {
        if (!firstAttempt) throw new OutcomeUnknownError(); // an earlier attempt may have refunded: stays pending
        return this.settle(payment, refund, { status: 'failed', failureCode: 'provider_unavailable' }, op);
      }
      // Unknown outcome (or our own failure): stays pending; a retry with the key or the recovery job
      // asks again under the same provider key, so it is refunded at most once.
      if (err instanceof ProviderUnknownOutcomeError) throw new OutcomeUnknownError();
      throw err;
    }
  }

  /**
   * The recovery job's check of a refund the provider took but settles later (sent(); never sent
   * again: past its idempotency window a provider would make a second refund): the provider is asked
   * about this refund, which is then booked, or failed (its amount released, and the provider asked what
   * it shows refunded of the charge now: see record()), or left pending. Returns whether it settled; a
   * provider that cannot answer fails the pass, and the next one asks again.
   */
  async settleFromProvider(merchantId: string, refund: Refund): Promise<boolean> {
    const payment = (await this.payments.findById(merchantId, refund.paymentId)) as Payment;
    const status = await this.registry
      .get(refund.provider)
      .retrieveRefund({ providerRef: payment.providerRef as string, providerRefundId: refund.providerRef as string });
    if (status === 'pending') return false;
    // Failed, it may have hidden refunds made at the provider while held: what the provider shows refunded
    // now is looked at again (a provider that cannot say fails this pass; the next one asks again).
    const refundedNow =
      status === 'failed' ? await this.book.refundedTotal(refund.provider as ProviderId, payment.providerRef as string, payment.id) : null;
    await this.record(payment, refund, {
      status,
      failureCode: status === 'failed' ? 'refund_failed' : null,
      refundedNow: refundedNow?.amount,
    });
    return true;
  }

  /**
   * The provider answered the refund `pending` (it settles later): nothing is booked yet. The refund keeps
   * the provider's ref and its amount stays held on the payment; the client gets it pending; the recovery
   * job books it when the provider reports it refunded (settleFromProvider).
   */
  private sent(op: PhasedOperation, payment: Payment, refund: Refund, providerRef: string): Promise<Refund> {
    return op.finish(
      async (tx) =>
        // Null: settled meanwhile (the recovery job); the refund as it is then.
        (await this.refunds.markSent(payment.merchantId, refund.id, providerRef, tx)) ??
        ((await this.refunds.findById(payment.merchantId, refund.id, tx)) as Refund),
      (current) => this.responseFor(current, op.requestId),
    );
  }

  /** Phase 3: records the outcome, then answers with the refund, or with its failure's error. */
  private async settle(payment: Payment, refund: Refund, outcome: RefundOutcome, op: PhasedOperation): Promise<Refund> {
    const settled = await this.record(payment, refund, outcome, op);
    if (settled.status === 'failed') throw this.failureError(settled);
    return settled;
  }

  /**
   * One transaction: the refund's outcome (unless it was settled already), the payment's refunded amount
   * and status, the ledger and the event for money that went back, and the stored answer for the key.
   * A refund of ours counts as known against the provider's refunded total while it is held; when it
   * fails, `refundedNow` (the total the provider shows now) is compared again (bookRefundsMadeAtProvider).
   */
  private async record(
    payment: Payment,
    refund: Refund,
    { status, providerRef = null, failureCode = null, refundedNow }: RefundOutcome,
    op: PhasedOperation = this.phases.detached(),
  ): Promise<Refund> {
    return op.finish(
      async (tx) => {
        const changed = await this.refunds.settle(payment.merchantId, refund.id, status, providerRef, failureCode, tx);
        if (changed && status === 'succeeded')
          await this.outcomes.refunded(tx, payment, {
            id: refund.id,
            amount: refund.amount,
            provider: refund.provider,
            giftCardAmount: refund.giftCardAmount,
          });
        if (changed && status === 'failed') {
          await this.payments.settleRefund(payment.merchantId, payment.id, refund.amount, false, tx);
          if (refundedNow !== undefined && (await this.book.bookRefundsMadeAtProvider(tx, payment, refundedNow)) === 'refused')
            this.logger.error({ paymentId: payment.id }, 'the provider shows more refunded than the payment can take back: reconcile');
        }
        // Null: settled already (the recovery job, a concurrent retry); the refund as it is then.
        return changed ?? ((await this.refunds.findById(payment.merchantId, refund.id, tx)) as Refund);
      },
      (after) => this.responseFor(after, op.requestId),
    );
  }

  private responseFor(refund: Refund, requestId: string): StoredResponse {
    return refund.status === 'failed' ? errorResponse(this.failureError(refund), requestId) : successResponse(201, refund);
  }

  private failureError(refund: Refund): DomainError {
    if (refund.failureCode === 'provider_unavailable')
      return new ProvidersUnavailableError('The provider is unavailable; nothing was refunded. Retry with a new Idempotency-Key.');
    return new DomainError('unprocessable', 'refund_refused', `The provider refused refund ${refund.id}.`);
  }

  private refusal(payment: Payment, amount: number): DomainError {
    if (!['succeeded', 'partially_refunded'].includes(payment.status)) {
      return new DomainError('unprocessable', 'payment_not_refundable', `A ${payment.status} payment cannot be refunded.`, { param: 'id' });
    }
    return new DomainError(
      'unprocessable',
      'refund_exceeds_remaining',
      `Refund of ${amount} exceeds what remains refundable on ${payment.id}.`,
      { param: 'amount' },
    );
  }
}

/**
 * How much of a refund goes back to the gift card that paid part of the payment: the provider's part is
 * refunded first (money back to the card the customer paid with), then the gift card's.
 * `providerRefunded`: what earlier refunds (succeeded or in flight) already took from the provider part.
 */
export function giftCardShare(payment: Payment, amount: number, providerRefunded: number): number {
  const providerPart = Math.max(0, Math.min(amount, payment.amount - payment.giftCardAmount - providerRefunded));
  return amount - providerPart;
}
