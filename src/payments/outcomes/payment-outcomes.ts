// Over 400 lines (415) on purpose for now: it is the only writer of a payment's ledger postings, outbox events and
// coupon redemptions (STYLE.md), and keeping every such write in one file is what makes that checkable. Next split:
// the suspense bookings of charges no payment names into their own class beside it.
import { Injectable } from '@nestjs/common';
import { CouponsService } from '../../coupons/coupons.service';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import type { Counter } from 'prom-client';
import type { Executor, Transaction } from '../../database/database.types';
import { OutboxRepository } from '../../events/outbox.repository';
import { LedgerService } from '../../ledger/ledger.service';
import { ACCOUNTS, type LedgerLine } from '../../ledger/ledger.types';
import { MetricsService } from '../../metrics/metrics.service';
import { PaymentHooks } from '../payment-hooks';
import { PaymentsRepository } from '../payments.repository';
import type { AttemptResult, NextAction, Payment } from '../payments.types';
import type { ProviderId, ProviderSettlement } from '../providers/payment-provider';
import { SettlementsRepository } from '../settlement/settlements.repository';

/** What an outcome needs to know of the payment: enough for the ledger and the event. */
export type PaymentRef = Pick<Payment, 'id' | 'merchantId' | 'amount' | 'currency' | 'customer' | 'checkoutSessionId'> &
  Partial<Pick<Payment, 'lines' | 'discount' | 'couponCode' | 'giftCardCode' | 'giftCardAmount'>>;

/**
 * A charge's posting. Debits: what the provider now holds for us, and the coupon's discount
 * (contra-revenue). Credits: sales at list price, except what bought gift cards, which is a liability
 * until the card is used (lines of type GIFT_CARD; coupons never discount them).
 */
function chargeLines(payment: PaymentRef, provider: ProviderId | null): LedgerLine[] {
  const discount = payment.discount ?? 0;
  const paidByCard = payment.giftCardAmount ?? 0;
  const giftCards = (payment.lines ?? []).filter((l) => l.productType === 'GIFT_CARD').reduce((sum, l) => sum + l.amount, 0);
  const sales = payment.amount + discount - giftCards;
  return [
    ...(provider ? [{ account: ACCOUNTS.receivable(provider), direction: 'debit' as const, amount: payment.amount - paidByCard }] : []),
    { account: ACCOUNTS.giftCardHeld, direction: 'debit' as const, amount: paidByCard },
    { account: ACCOUNTS.discounts, direction: 'debit' as const, amount: discount },
    { account: ACCOUNTS.sales, direction: 'credit' as const, amount: sales },
    { account: ACCOUNTS.giftCardLiability, direction: 'credit' as const, amount: giftCards },
  ].filter((line) => line.amount > 0);
}

/** A provider's fee on a charge: from what it holds for us to the `provider_fees` expense, once per payment. */
function feePosting(payment: Pick<PaymentRef, 'id' | 'merchantId' | 'currency'>, provider: ProviderId, fee: number) {
  return {
    merchantId: payment.merchantId,
    postingId: `fee:${payment.id}`,
    kind: 'fee',
    currency: payment.currency,
    paymentId: payment.id,
    lines: [
      { account: ACCOUNTS.providerFees, direction: 'debit' as const, amount: fee },
      { account: ACCOUNTS.receivable(provider), direction: 'credit' as const, amount: fee },
    ],
  };
}

/**
 * Whose suspense a charge is in: a payment (a charge it does not account for), or, `stray`, the
 * reconciliation discrepancy that found a charge no payment names (its id stands for the payment's).
 */
export type SuspenseHolder = Pick<PaymentRef, 'id' | 'merchantId'> & { stray?: boolean };

/**
 * The ids of the suspense postings of one provider charge of a payment, built only here: the one that
 * booked it to suspense, and each release from it, named by the total released with it. The releases
 * share a prefix, by which LedgerService.suspenseOf sums them.
 */
function suspensePostingIds(payment: Pick<SuspenseHolder, 'id'>, provider: ProviderId, providerRef: string) {
  const charge = `${payment.id}:${provider}:${providerRef}`;
  const releasedPrefix = `suspense_refund:${charge}:`;
  return { held: `unmatched_charge:${charge}`, releasedPrefix, release: (total: number) => `${releasedPrefix}${total}` };
}

/**
 * The one place where a payment reaches an outcome. Each method runs inside the caller's transaction
 * and writes, all or nothing: the status change (only if the state machine allows it), the ledger
 * posting for money that moved, and the outbox event. Each returns the payment as it now is, or null
 * when it was already past that point (a repeated webhook, a recovery racing a slow request): then
 * nothing is written. Money a payment does not account for never changes its status: it is booked to
 * suspense and released from it (unmatchedCharge, releaseSuspense), with no event.
 */
@Injectable()
export class PaymentOutcomes {
  private readonly outcomes: Counter<string>;

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxRepository,
    private readonly coupons: CouponsService,
    private readonly holds: GiftCardHolds,
    private readonly hooks: PaymentHooks,
    private readonly settlements: SettlementsRepository,
    metrics: MetricsService,
  ) {
    this.outcomes = metrics.counter('payments_outcomes_total', 'Payments reaching an outcome, by provider', ['provider', 'outcome']);
  }

  async succeed(
    tx: Transaction,
    payment: PaymentRef,
    provider: ProviderId | null,
    providerRef: string | null,
    attempt: AttemptResult | null,
    detail: Record<string, unknown> = {},
    settlement: ProviderSettlement | null = null,
  ): Promise<Payment | null> {
    const moved = await this.payments.transition(
      payment.merchantId,
      payment.id,
      'succeeded',
      { provider: provider ?? undefined, providerRef, nextAction: null, settlementDue: provider !== null, settlement },
      attempt,
      { provider, ...detail },
      tx,
    );
    if (!moved) return null;
    // Nothing reads these back: they leave with the caller's next statements (or its COMMIT).
    tx.later(
      this.ledger.post(
        {
          merchantId: payment.merchantId,
          postingId: `charge:${payment.id}`,
          kind: 'charge',
          currency: payment.currency,
          paymentId: payment.id,
          lines: chargeLines(payment, provider),
        },
        tx,
      ),
    );
    // The fee the provider's answer reports, booked with the sale (the settlement job books one learned later).
    if (provider && settlement && settlement.fee > 0) tx.later(this.ledger.post(feePosting(payment, provider, settlement.fee), tx));
    if (payment.couponCode) {
      tx.later(
        this.coupons.redeem(tx, payment.merchantId, payment.couponCode, { sessionId: payment.checkoutSessionId, paymentId: payment.id }),
      );
    }
    tx.later(this.outbox.insert([this.event(payment, 'payment.succeeded', { provider, providerRef })], tx));
    await this.hooks.outcomeReached(tx, moved.payment, 'succeeded');
    this.outcomes.inc({ provider: provider ?? 'gift_card', outcome: 'succeeded' });
    return moved.payment;
  }

  /**
   * What the provider reports of a succeeded charge's settlement, after it succeeded (the settlement
   * job): recorded on the payment, and its fee booked once (feePosting), whoever reported it first.
   * `checkAgainAt`: the earliest the job asks again about one still pending. False when the payment's
   * settlement was already available (nothing written).
   */
  async settle(
    tx: Transaction,
    payment: Pick<Payment, 'id' | 'merchantId' | 'currency'>,
    provider: ProviderId,
    settlement: ProviderSettlement,
    checkAgainAt: Date,
  ): Promise<boolean> {
    const recorded = await this.settlements.record(payment.merchantId, payment.id, settlement, checkAgainAt, tx);
    if (!recorded) return false;
    if (recorded.fee > 0) await this.ledger.postOnce(feePosting(payment, provider, recorded.fee), tx);
    return true;
  }

  async requireAction(
    tx: Transaction,
    payment: PaymentRef,
    provider: ProviderId,
    providerRef: string,
    nextAction: NextAction,
    attempt: AttemptResult | null,
  ): Promise<Payment | null> {
    const moved = await this.payments.transition(
      payment.merchantId,
      payment.id,
      'requires_action',
      { provider, providerRef, nextAction },
      attempt,
      { provider },
      tx,
    );
    if (moved) this.outcomes.inc({ provider, outcome: 'requires_action' });
    return moved?.payment ?? null;
  }

  async fail(
    tx: Transaction,
    payment: PaymentRef,
    failure: { code: string; message: string; declineCode?: string | null; provider?: ProviderId; providerRef?: string | null },
    attempt: AttemptResult | null,
  ): Promise<Payment | null> {
    const moved = await this.payments.transition(
      payment.merchantId,
      payment.id,
      'failed',
      {
        provider: failure.provider,
        providerRef: failure.providerRef,
        failureCode: failure.code,
        failureMessage: failure.message,
        declineCode: failure.declineCode ?? null,
        nextAction: null,
      },
      attempt,
      { failureCode: failure.code, declineCode: failure.declineCode ?? null },
      tx,
    );
    if (!moved) return null;
    // A direct payment gives back its coupon use and its gift-card hold; a checkout session keeps them
    // for its next attempt (they go back when the session expires or is canceled).
    if (!moved.payment.checkoutSessionId) this.giveBack(tx, moved.payment);
    tx.later(
      this.outbox.insert(
        [this.event(payment, 'payment.failed', { failureCode: failure.code, declineCode: failure.declineCode ?? null })],
        tx,
      ),
    );
    await this.hooks.outcomeReached(tx, moved.payment, 'failed');
    this.outcomes.inc({
      provider: moved.payment.provider ?? 'none',
      outcome: failure.code === 'card_declined' ? 'declined' : 'failed',
    });
    return moved.payment;
  }

  /**
   * The provider reports money taken that the payment does not account for (it was closed before, or
   * another charge paid it). Its status never moves back, so no sale is recorded; the money is booked once
   * per provider charge, from what the provider holds for us to suspense (owed to the customer until
   * someone resolves it). True when booked, false for a charge already booked (a repeated event). The
   * caller holds the payment's row lock (PaymentsRepository.findByIdForUpdate).
   */
  async unmatchedCharge(
    tx: Transaction,
    payment: PaymentRef,
    provider: ProviderId,
    charge: { providerRef: string; amount: number; currency: string },
  ): Promise<boolean> {
    const booked = await this.ledger.postOnce(
      {
        merchantId: payment.merchantId,
        postingId: suspensePostingIds(payment, provider, charge.providerRef).held,
        kind: 'unmatched_charge',
        currency: charge.currency,
        paymentId: payment.id,
        lines: [
          { account: ACCOUNTS.receivable(provider), direction: 'debit', amount: charge.amount },
          { account: ACCOUNTS.suspense, direction: 'credit', amount: charge.amount },
        ],
      },
      tx,
    );
    if (booked) this.outcomes.inc({ provider, outcome: 'unmatched_charge' });
    return booked;
  }

  /**
   * A provider charge that no payment of ours accounts for at all (reconciliation's `missing_locally`,
   * held under the discrepancy `holderId` that found it): booked to suspense like unmatchedCharge, with no
   * payment. The caller books it once, in the transaction that records the discrepancy (one per provider
   * charge, ever).
   */
  async strayCharge(
    tx: Transaction,
    merchantId: string,
    holderId: string,
    provider: ProviderId,
    charge: { providerRef: string; amount: number; currency: string },
  ): Promise<void> {
    await this.ledger.post(
      {
        merchantId,
        postingId: suspensePostingIds({ id: holderId }, provider, charge.providerRef).held,
        kind: 'unmatched_charge',
        currency: charge.currency,
        lines: [
          { account: ACCOUNTS.receivable(provider), direction: 'debit', amount: charge.amount },
          { account: ACCOUNTS.suspense, direction: 'credit', amount: charge.amount },
        ],
      },
      tx,
    );
    this.outcomes.inc({ provider, outcome: 'unmatched_charge' });
  }

  /**
   * The provider reports `refundedInAll` of a charge booked to suspense (unmatchedCharge) refunded: that
   * much went back to the customer, so it leaves suspense (debit suspense, credit what the provider holds
   * for us), once per reported total, with a timeline note. Answers the charge's suspense as it now is,
   * or null when no such charge is in suspense. The caller holds the payment's row lock.
   */
  async releaseSuspense(
    tx: Transaction,
    payment: SuspenseHolder,
    provider: ProviderId,
    providerRef: string,
    refundedInAll: number,
    reportedCurrency: string,
  ): Promise<{ held: number; released: number; currency: string } | null> {
    const ids = suspensePostingIds(payment, provider, providerRef);
    const { held, released, currency } = await this.suspenseOf(payment, provider, providerRef, tx);
    if (held === 0 || currency === null) return null;
    if (reportedCurrency !== currency)
      throw new Error(`${provider} reports refunds of ${providerRef} in ${reportedCurrency}, held in suspense in ${currency}: reconcile`);
    const target = Math.min(refundedInAll, held);
    if (target <= released) return { held, released, currency };
    if (!payment.stray) {
      await this.payments.addTimelineEntry(
        payment.merchantId,
        payment.id,
        'note',
        { suspense: 'refunded at the provider', providerRef, refunded: refundedInAll },
        tx,
      );
    }
    await this.ledger.post(
      {
        merchantId: payment.merchantId,
        postingId: ids.release(target),
        kind: 'suspense_refund',
        currency,
        paymentId: payment.stray ? undefined : payment.id,
        lines: [
          { account: ACCOUNTS.suspense, direction: 'debit', amount: target - released },
          { account: ACCOUNTS.receivable(provider), direction: 'credit', amount: target - released },
        ],
      },
      tx,
    );
    return { held, released: target, currency };
  }

  /** What one provider charge of the payment (or stray charge) put in suspense (`held`), and how much of it was released. */
  suspenseOf(payment: SuspenseHolder, provider: ProviderId, providerRef: string, executor: Executor) {
    const ids = suspensePostingIds(payment, provider, providerRef);
    return this.ledger.suspenseOf(payment.merchantId, payment.stray ? null : payment.id, ids.held, ids.releasedPrefix, executor);
  }

  /** Serializes the releases of a stray charge's suspense (a payment's are serialized by its row lock). */
  lockStray(tx: Transaction, holder: SuspenseHolder, provider: ProviderId, providerRef: string): Promise<void> {
    return this.ledger.lockStraySuspense(holder.merchantId, suspensePostingIds(holder, provider, providerRef).held, tx);
  }

  async cancel(tx: Executor, payment: PaymentRef, reason: string): Promise<Payment | null> {
    const moved = await this.payments.transition(payment.merchantId, payment.id, 'canceled', { nextAction: null }, null, { reason }, tx);
    return moved?.payment ?? null;
  }

  /** What a payment that will not happen had taken, handed back in the caller's transaction: its coupon use, its gift-card hold. */
  giveBack(tx: Transaction, payment: PaymentRef): void {
    if (payment.couponCode) {
      tx.later(
        this.coupons.release(
          tx,
          payment.merchantId,
          payment.couponCode,
          payment.checkoutSessionId ? { sessionId: payment.checkoutSessionId } : { paymentId: payment.id },
        ),
      );
    }
    if (payment.giftCardCode && payment.giftCardAmount) {
      tx.later(
        this.holds.release(
          tx,
          payment.merchantId,
          payment.giftCardCode,
          payment.giftCardAmount,
          payment.currency,
          payment.checkoutSessionId ?? payment.id,
        ),
      );
    }
  }

  /** A succeeded refund: the payment's refunded amount and status, a balanced posting, the event. */
  async refunded(
    tx: Transaction,
    payment: PaymentRef,
    refund: { id: string; amount: number; provider: string; giftCardAmount: number },
  ): Promise<void> {
    await this.payments.settleRefund(payment.merchantId, payment.id, refund.amount, true, tx);
    if (refund.giftCardAmount > 0 && payment.giftCardCode)
      await this.holds.refund(tx, payment.merchantId, payment.giftCardCode, refund.giftCardAmount, refund.id);
    await this.ledger.post(
      {
        merchantId: payment.merchantId,
        postingId: `refund:${refund.id}`,
        kind: 'refund',
        currency: payment.currency,
        paymentId: payment.id,
        refundId: refund.id,
        lines: [
          { account: ACCOUNTS.refunds, direction: 'debit' as const, amount: refund.amount },
          { account: ACCOUNTS.receivable(refund.provider), direction: 'credit' as const, amount: refund.amount - refund.giftCardAmount },
          { account: ACCOUNTS.giftCardLiability, direction: 'credit' as const, amount: refund.giftCardAmount },
        ].filter((line) => line.amount > 0),
      },
      tx,
    );
    await this.outbox.insert([this.event(payment, 'payment.refunded', { refundId: refund.id, refundAmount: refund.amount })], tx);
  }

  private event(payment: PaymentRef, type: 'payment.succeeded' | 'payment.failed' | 'payment.refunded', extra: Record<string, unknown>) {
    return {
      merchantId: payment.merchantId,
      type,
      aggregateType: 'payment' as const,
      aggregateId: payment.id,
      data: {
        paymentId: payment.id,
        amount: payment.amount,
        currency: payment.currency,
        customer: payment.customer,
        checkoutSessionId: payment.checkoutSessionId,
        ...extra,
      },
    };
  }
}
