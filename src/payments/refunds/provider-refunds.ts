import { Injectable } from '@nestjs/common';
import type { AuthContext } from '../../auth/auth.types';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import { DatabaseService } from '../../database/database.service';
import type { UnmatchedChargeDto } from '../dto/checkout.dto';
import { OutcomeUnknownError, ProvidersUnavailableError } from '../payment-errors';
import { PaymentOutcomes, type SuspenseHolder } from '../outcomes/payment-outcomes';
import { SETTLED } from '../outcomes/payment-state';
import { PaymentsRepository } from '../payments.repository';
import {
  ProviderDeclineError,
  ProviderId,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  ProviderWebhookEvent,
} from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { ProviderRefundBook } from './provider-refund-book';

/** Whose suspense: a payment, or the reconciliation discrepancy holding a charge no payment names. */
type Holder = SuspenseHolder;

/** A charge booked to suspense, after an admin asked to give it back: `pending` while the provider has not settled all of it. */
export interface UnmatchedChargeRefund {
  /** The payment holding the charge; null for a charge no payment names (held under `discrepancyId`). */
  paymentId: string | null;
  discrepancyId?: string;
  provider: ProviderId;
  providerRef: string;
  held: number;
  released: number;
  currency: string;
  status: 'released' | 'pending';
}

/**
 * Refunds the provider tells us about (its reports of refunds made in its dashboard) and the give-back of
 * charges held in suspense: money that goes back without a refund of this API behind it.
 */
@Injectable()
export class ProviderRefunds {
  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly registry: ProviderRegistry,
    private readonly outcomes: PaymentOutcomes,
    private readonly book: ProviderRefundBook,
  ) {}

  /**
   * A provider reports refunds of a charge (Stripe's `charge.refunded`, Mercado Pago's refunded payment).
   * The report only says to look: reports arrive late, repeated and out of order, and may or may not count
   * a refund still pending there, so the provider is asked what it shows refunded of that charge now. For
   * the payment's own charge that total is compared with the refunds we know of (bookRefundsMadeAtProvider);
   * for a charge the payment does not account for, with what left suspense (PaymentOutcomes.releaseSuspense).
   * Thrown, the event is retried with backoff and then kept as a dead letter to replay: when no payment
   * holds the charge yet, or its charge is not settled yet (its own event may still be on the way), or the
   * charge is neither the payment's nor in suspense, or in another currency, or more than the payment can
   * take back.
   */
  async applyProviderEvent(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    const { merchantId, providerRef, reference } = event;
    if (!merchantId || !providerRef) return 'ignored';
    // The payment paid by this charge, or the direct payment it names (a charge it does not account for).
    const payment = await this.payments.findForEvent(merchantId, provider, providerRef, reference);
    if (!payment) throw new Error(`No payment holds ${provider} charge ${providerRef} yet: its refunds wait`);
    const refundedNow = await this.book.refundedTotal(provider, providerRef, payment.id);
    await this.db.transaction(async (tx) => {
      const current = await this.payments.findByIdForUpdate(merchantId, payment.id, tx);
      if (!current) throw new Error(`Payment ${payment.id} is gone`);
      if (current.providerRef !== providerRef || current.provider !== provider || !SETTLED.includes(current.status)) {
        // Not the payment's own settled charge: money booked to suspense goes back to the customer, or
        // the charge has not settled yet.
        if (await this.outcomes.releaseSuspense(tx, payment, provider, providerRef, refundedNow.amount, refundedNow.currency)) return;
        if (current.providerRef === providerRef && current.provider === provider)
          throw new Error(`Payment ${payment.id} is ${current.status}: its refunds wait for its charge`);
        throw new Error(`Payment ${payment.id} was not paid by ${provider} charge ${providerRef}: reconcile its refunds`);
      }
      if (refundedNow.currency !== payment.currency)
        throw new Error(
          `${provider} shows refunds of ${providerRef} in ${refundedNow.currency}, payment ${payment.id} is in ${payment.currency}: reconcile`,
        );
      const booked = await this.book.bookRefundsMadeAtProvider(tx, payment, refundedNow.amount);
      if (booked === 'refused') throw new Error(`${provider} shows more refunded of ${payment.id} than it can take back: reconcile`);
    });
    return 'processed';
  }

  /**
   * An admin gives back a charge the payment does not account for (booked to suspense by
   * PaymentOutcomes.unmatchedCharge). The provider is asked first what it shows refunded of the charge,
   * and that much leaves suspense (a refund made at its dashboard whose report is late counts). What the
   * charge still holds is then refunded at its provider under a key derived from that total: a retry, a
   * concurrent request or a resume after a crash derives the same key while the total stands, so the
   * provider refunds once, and no provider refunds more than the charge. No intent row is needed, the key
   * coming from the provider's own books. Suspense is released again as far as the provider then shows; a
   * refund it settles later leaves the charge `pending` until the next call or the provider's report.
   */
  async refundUnmatchedCharge(
    caller: AuthContext,
    id: string,
    { provider, providerRef }: UnmatchedChargeDto,
  ): Promise<UnmatchedChargeRefund> {
    // A charge no payment names is held under the reconciliation discrepancy that found it (`dsc_…`).
    const stray = id.startsWith('dsc_');
    const payment = stray ? null : await this.payments.findById(caller.merchantId, id);
    if (!stray && !payment) throw new NotFoundError('payment', id);
    const holder: Holder = payment ?? { id, merchantId: caller.merchantId, stray: true };
    // Asked before the provider is: a charge not in suspense is the caller's mistake, not the provider's.
    const { held } = await this.outcomes.suspenseOf(holder, provider, providerRef, this.db);
    if (held === 0) {
      throw new DomainError('not_found', 'unmatched_charge_not_found', `${id} holds no ${provider} charge ${providerRef} in suspense.`, {
        param: 'providerRef',
      });
    }
    const before = await this.releaseAsRefunded(holder, provider, providerRef).catch((err) => {
      throw unreachable(provider, err);
    });
    // One state, read under the lock, gives both the amount and the key.
    const base = Math.max(before.released, before.refunded);
    let after = before;
    if (base < before.held) {
      try {
        await this.registry.get(provider).refund({
          providerRef,
          amount: before.held - base,
          currency: before.currency,
          idempotencyKey: `${id}:suspense:${providerRef}:${base}`,
        });
      } catch (err) {
        if (err instanceof ProviderDeclineError) {
          throw new DomainError('unprocessable', 'refund_refused', `${provider} refused to refund ${providerRef}: ${err.declineCode}.`);
        }
        throw unreachable(provider, err);
      }
      // Money moved: if the provider cannot be asked now, a retry with the same key asks again.
      after = await this.releaseAsRefunded(holder, provider, providerRef).catch(() => {
        throw new OutcomeUnknownError();
      });
    }
    const status = after.released >= after.held ? 'released' : 'pending';
    return {
      paymentId: payment?.id ?? null,
      ...(stray ? { discrepancyId: id } : {}),
      provider,
      providerRef,
      held: after.held,
      released: after.released,
      currency: after.currency,
      status,
    };
  }

  /**
   * Asks the provider what it shows refunded of a charge held in suspense, and releases that much under
   * the payment's row lock (a stray charge's: its suspense line's), once per total, never more than held.
   * Answers the provider's total and the charge's suspense as it then is.
   */
  private async releaseAsRefunded(holder: Holder, provider: ProviderId, providerRef: string) {
    const refundedNow = await this.book.refundedTotal(provider, providerRef, holder.stray ? undefined : holder.id);
    const suspense = await this.db.transaction(async (tx) => {
      if (holder.stray) await this.outcomes.lockStray(tx, holder, provider, providerRef);
      else await this.payments.findByIdForUpdate(holder.merchantId, holder.id, tx);
      return this.outcomes.releaseSuspense(tx, holder, provider, providerRef, refundedNow.amount, refundedNow.currency);
    });
    if (!suspense) throw new Error(`${holder.id} holds no ${provider} charge ${providerRef} in suspense any more`);
    return { ...suspense, refunded: refundedNow.amount };
  }
}

/** A provider that could not be reached or asked: 503, and the Idempotency-Key stays open for a retry. */
function unreachable(provider: ProviderId, err: unknown): unknown {
  if (err instanceof ProviderUnknownOutcomeError) return new OutcomeUnknownError();
  if (err instanceof ProviderUnavailableError) return new ProvidersUnavailableError(`${provider} is unavailable; retry later.`);
  return err;
}
