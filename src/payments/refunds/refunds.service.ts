import { Injectable, Logger } from '@nestjs/common';
import type { AuthContext } from '../../auth/auth.types';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import { newId } from '../../common/ids';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { errorResponse, successResponse } from '../../common/idempotency/idempotency.interceptor';
import { IdempotencyRepository, KeyCompletion, StoredResponse } from '../../common/idempotency/idempotency.repository';
import { DatabaseService } from '../../database/database.service';
import type { Transaction } from '../../database/database.types';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import type { RefundDto, UnmatchedChargeDto } from '../dto/checkout.dto';
import { OutcomeUnknownError, ProvidersUnavailableError } from '../payment-errors';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import type { Payment } from '../payments.types';
import { SETTLED } from '../outcomes/payment-state';
import {
  ProviderDeclineError,
  ProviderId,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  ProviderWebhookEvent,
} from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { Refund, RefundsRepository } from './refunds.repository';

const REFUND_CREATED = 'refund_created';

/**
 * Refunds in phases, like charges: (1) one transaction holds the amount on the payment (a conditional
 * UPDATE: racing refunds can never exceed what was captured) and records the refund as pending;
 * (2) the provider refunds under the refund's id as idempotency key; (3) one transaction settles the
 * refund, the payment's refunded amount and status, the ledger and the outbox. Refunds made at the
 * provider (its dashboard) are recorded from what the provider shows refunded (applyProviderEvent).
 */
/** A refund's outcome at the provider; `refundedNow`, for a failed one: what the provider shows refunded now. */
interface RefundOutcome {
  status: 'succeeded' | 'failed';
  providerRef?: string | null;
  failureCode?: string | null;
  refundedNow?: number;
}

/** A charge booked to suspense, after an admin asked to give it back: `pending` while the provider has not settled all of it. */
export interface UnmatchedChargeRefund {
  paymentId: string;
  provider: ProviderId;
  providerRef: string;
  held: number;
  released: number;
  currency: string;
  status: 'released' | 'pending';
}

/** Who waits for the outcome: the Idempotency-Key to complete with it, and the live request, if any. */
interface Waiting {
  complete: KeyCompletion | null;
  idem?: IdempotencyContext;
}

@Injectable()
export class RefundsService {
  private readonly logger = new Logger(RefundsService.name);

  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly idempotency: IdempotencyRepository,
    private readonly registry: ProviderRegistry,
    private readonly outcomes: PaymentOutcomes,
    private readonly holds: GiftCardHolds,
  ) {}

  async refund(caller: AuthContext, paymentId: string, dto: RefundDto, idem: IdempotencyContext): Promise<Refund> {
    const merchantId = caller.merchantId;
    if (idem.recoveryPoint === REFUND_CREATED) {
      const pending = await this.refunds.findByIdempotencyKey(merchantId, idem.key);
      if (!pending) throw new DomainError('conflict', 'idempotency_state_invalid', 'This key has no refund to resume.');
      // Settled meanwhile (the recovery job), or taken by the provider to settle later: answer with it,
      // never send it again.
      if (pending.status !== 'pending' || pending.providerRef) {
        await this.idempotency.completeOwned(idem, this.responseFor(pending, idem.requestId), this.db);
        idem.completed = true;
        if (pending.status === 'failed') throw this.failureError(pending);
        return pending;
      }
      return this.execute(merchantId, pending, this.idempotency.owned(idem), idem, false);
    }
    const refundId = newId('re');
    const refund = await this.db.transaction(async (tx) => {
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
          idempotencyKey: idem.key,
          giftCardAmount: toCard,
          status: 'pending',
        },
        tx,
      );
      await this.idempotency.advance(idem, REFUND_CREATED, tx);
      return (await this.refunds.findById(merchantId, refundId, tx)) as Refund;
    });
    return this.execute(merchantId, refund, this.idempotency.owned(idem), idem, true);
  }

  /**
   * Phases 2 and 3; also what the recovery job runs for a refund left pending.
   * `firstAttempt`: this is the first call for the refund. A later one (a retry, the recovery job)
   * follows an attempt whose outcome is unknown, so "unavailable" now does not prove nothing happened.
   */
  async execute(
    merchantId: string,
    refund: Refund,
    complete: KeyCompletion | null,
    idem?: IdempotencyContext,
    firstAttempt = false,
  ): Promise<Refund> {
    const payment = (await this.payments.findById(merchantId, refund.paymentId)) as Payment;
    const providerAmount = refund.amount - refund.giftCardAmount;
    const waiting = { complete, idem };
    if (providerAmount === 0) return this.settle(payment, refund, { status: 'succeeded' }, waiting); // wholly back to the gift card
    try {
      const result = await this.registry.get(refund.provider).refund({
        providerRef: payment.providerRef as string,
        amount: providerAmount,
        currency: refund.currency,
        idempotencyKey: refund.id,
      });
      if (result.status === 'pending') return await this.sent(payment, refund, result.providerRefundId, waiting);
      return await this.settle(payment, refund, { status: 'succeeded', providerRef: result.providerRefundId }, waiting);
    } catch (err) {
      if (err instanceof ProviderDeclineError) {
        // While held, this refund may have hidden refunds made at the provider (bookRefundsMadeAtProvider):
        // the provider answers, so it is asked what it shows refunded; if it cannot say, its next report does.
        const refundedNow = await this.providerRefundedTotal(payment.provider as ProviderId, payment.providerRef as string, payment).catch(
          () => null,
        );
        return this.settle(payment, refund, { status: 'failed', failureCode: 'refund_refused', refundedNow: refundedNow?.amount }, waiting);
      }
      if (err instanceof ProviderUnavailableError) {
        if (!firstAttempt) throw new OutcomeUnknownError(); // an earlier attempt may have refunded: stays pending
        return this.settle(payment, refund, { status: 'failed', failureCode: 'provider_unavailable' }, waiting);
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
      status === 'failed' ? await this.providerRefundedTotal(refund.provider as ProviderId, payment.providerRef as string, payment) : null;
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
  private async sent(payment: Payment, refund: Refund, providerRef: string, { complete, idem }: Waiting): Promise<Refund> {
    const after = await this.db.transaction(async (tx) => {
      // Null: settled meanwhile (the recovery job); the refund as it is then.
      const current =
        (await this.refunds.markSent(payment.merchantId, refund.id, providerRef, tx)) ??
        ((await this.refunds.findById(payment.merchantId, refund.id, tx)) as Refund);
      if (complete) tx.later(complete(tx, this.responseFor(current, idem?.requestId ?? '')));
      return current;
    });
    if (idem) idem.completed = true;
    return after;
  }

  /** Phase 3: records the outcome, then answers with the refund, or with its failure's error. */
  private async settle(payment: Payment, refund: Refund, outcome: RefundOutcome, waiting: Waiting): Promise<Refund> {
    const settled = await this.record(payment, refund, outcome, waiting);
    if (settled.status === 'failed') throw this.failureError(settled);
    return settled;
  }

  /** How much of this charge the provider shows refunded now, ours and any made in its dashboard. */
  private async providerRefundedTotal(
    provider: ProviderId,
    providerRef: string,
    payment: Payment,
  ): Promise<{ amount: number; currency: string }> {
    // By the charge's reference; a provider that looks charges up by our key finds none under this one.
    const found = await this.registry.get(provider).retrieve({ providerRef, idempotencyKey: providerRef, reference: payment.id });
    if (!found) throw new Error(`${provider} shows no charge ${providerRef}`);
    return { amount: found.amountRefunded, currency: found.currency };
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
    { complete, idem }: Waiting = { complete: null },
  ): Promise<Refund> {
    const settled = await this.db.transaction(async (tx) => {
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
        if (refundedNow !== undefined && (await this.bookRefundsMadeAtProvider(tx, payment, refundedNow)) === 'refused')
          this.logger.error({ paymentId: payment.id }, 'the provider shows more refunded than the payment can take back: reconcile');
      }
      // Null: settled already (the recovery job, a concurrent retry); the refund as it is then.
      const after = changed ?? ((await this.refunds.findById(payment.merchantId, refund.id, tx)) as Refund);
      if (complete) tx.later(complete(tx, this.responseFor(after, idem?.requestId ?? '')));
      return after;
    });
    if (idem) idem.completed = true;
    return settled;
  }

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
    const refundedNow = await this.providerRefundedTotal(provider, providerRef, payment);
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
      const booked = await this.bookRefundsMadeAtProvider(tx, payment, refundedNow.amount);
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
    paymentId: string,
    { provider, providerRef }: UnmatchedChargeDto,
  ): Promise<UnmatchedChargeRefund> {
    const payment = await this.payments.findById(caller.merchantId, paymentId);
    if (!payment) throw new NotFoundError('payment', paymentId);
    // Asked before the provider is: a charge not in suspense is the caller's mistake, not the provider's.
    const { held } = await this.outcomes.suspenseOf(payment, provider, providerRef, this.db);
    if (held === 0) {
      throw new DomainError(
        'not_found',
        'unmatched_charge_not_found',
        `${payment.id} holds no ${provider} charge ${providerRef} in suspense.`,
        {
          param: 'providerRef',
        },
      );
    }
    const before = await this.releaseAsRefunded(payment, provider, providerRef).catch((err) => {
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
          idempotencyKey: `${payment.id}:suspense:${providerRef}:${base}`,
        });
      } catch (err) {
        if (err instanceof ProviderDeclineError) {
          throw new DomainError('unprocessable', 'refund_refused', `${provider} refused to refund ${providerRef}: ${err.declineCode}.`);
        }
        throw unreachable(provider, err);
      }
      // Money moved: if the provider cannot be asked now, a retry with the same key asks again.
      after = await this.releaseAsRefunded(payment, provider, providerRef).catch(() => {
        throw new OutcomeUnknownError();
      });
    }
    const status = after.released >= after.held ? 'released' : 'pending';
    return { paymentId: payment.id, provider, providerRef, held: after.held, released: after.released, currency: after.currency, status };
  }

  /**
   * Asks the provider what it shows refunded of a charge held in suspense, and releases that much under
   * the payment's row lock (once per total, never more than held). Answers the provider's total and the
   * charge's suspense as it then is.
   */
  private async releaseAsRefunded(payment: Payment, provider: ProviderId, providerRef: string) {
    const refundedNow = await this.providerRefundedTotal(provider, providerRef, payment);
    const suspense = await this.db.transaction(async (tx) => {
      await this.payments.findByIdForUpdate(payment.merchantId, payment.id, tx);
      return this.outcomes.releaseSuspense(tx, payment, provider, providerRef, refundedNow.amount, refundedNow.currency);
    });
    if (!suspense) throw new Error(`${payment.id} holds no ${provider} charge ${providerRef} in suspense any more`);
    return { ...suspense, refunded: refundedNow.amount };
  }

  /**
   * What the provider shows refunded beyond the refunds we know of (succeeded, or held for one of ours
   * not settled yet) was refunded outside this API: it is recorded as one succeeded refund of origin
   * `provider` and booked like any refund. Runs under the payment's row lock, when a report arrives
   * and when one of our refunds fails (while held it hid that much of the provider's total).
   */
  private async bookRefundsMadeAtProvider(
    tx: Transaction,
    payment: Payment,
    refundedAtProvider: number,
  ): Promise<'booked' | 'nothing' | 'refused'> {
    const known = await this.refunds.providerPart(payment.merchantId, payment.id, ['pending', 'succeeded'], tx);
    const outside = refundedAtProvider - known;
    if (outside <= 0) return 'nothing';
    if (!(await this.payments.reserveRefund(payment.merchantId, payment.id, outside, tx))) return 'refused';
    const id = newId('re');
    await this.refunds.insert(
      {
        merchantId: payment.merchantId,
        id,
        paymentId: payment.id,
        amount: outside,
        currency: payment.currency,
        reason: null,
        origin: 'provider',
        provider: payment.provider as ProviderId,
        idempotencyKey: null,
        giftCardAmount: 0,
        status: 'succeeded',
      },
      tx,
    );
    await this.outcomes.refunded(tx, payment, { id, amount: outside, provider: payment.provider as ProviderId, giftCardAmount: 0 });
    if (boughtGiftCard(payment)) {
      // The card it bought stays spendable (this API refuses such refunds for that reason): flagged.
      this.logger.error(
        { paymentId: payment.id, refundId: id },
        'a payment that bought a gift card was refunded at the provider: reconcile',
      );
      await this.payments.flagForReconciliation(
        payment.merchantId,
        payment.id,
        'refunded at the provider while the gift card it bought stays spendable',
        { refundId: id },
        tx,
      );
    }
    return 'booked';
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

/** A provider that could not be reached or asked: 503, and the Idempotency-Key stays open for a retry. */
function unreachable(provider: ProviderId, err: unknown): unknown {
  if (err instanceof ProviderUnknownOutcomeError) return new OutcomeUnknownError();
  if (err instanceof ProviderUnavailableError) return new ProvidersUnavailableError(`${provider} is unavailable; retry later.`);
  return err;
}

/** A payment that bought a gift card: refunding it would leave the card spendable. */
function boughtGiftCard(payment: Payment): boolean {
  return (payment.lines ?? []).some((line) => line.productType === 'GIFT_CARD');
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
