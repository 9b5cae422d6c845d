import { Injectable, Logger } from '@nestjs/common';
import { newId } from '../../common/ids';
import { DatabaseService } from '../../database/database.service';
import { PaymentMethodsRepository } from '../../customers/payment-methods.repository';
import type { Executor, Transaction } from '../../database/database.types';
import { OutboxRepository } from '../../events/outbox.repository';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { PaymentHooks } from '../payment-hooks';
import { PaymentsRepository } from '../payments.repository';
import type { Payment } from '../payments.types';
import type { ProviderId, ProviderWebhookEvent } from '../providers/payment-provider';
import { CheckoutSessionsRepository } from './checkout-sessions.repository';
import type { CheckoutSession } from './checkout-sessions.types';
import { checkoutEvent, CheckoutService } from './checkout.service';

/** Runs in the transaction that records a completed checkout's payment (gift-card activation). */
export type CompletionHook = (tx: Executor, session: CheckoutSession, payment: Payment) => Promise<void>;

/**
 * What a provider reports about a hosted checkout, once verified and confirmed: the customer paid
 * (the session completes and its payment succeeds), an attempt was declined, or the session expired.
 * A session completes only here.
 */
@Injectable()
export class CheckoutEvents {
  private readonly logger = new Logger(CheckoutEvents.name);
  private readonly completionHooks: CompletionHook[] = [];

  constructor(
    private readonly db: DatabaseService,
    private readonly sessions: CheckoutSessionsRepository,
    private readonly payments: PaymentsRepository,
    private readonly outcomes: PaymentOutcomes,
    private readonly outbox: OutboxRepository,
    private readonly holds: GiftCardHolds,
    private readonly checkout: CheckoutService,
    private readonly methods: PaymentMethodsRepository,
    private readonly hooks: PaymentHooks,
  ) {}

  onCompleted(hook: CompletionHook): void {
    this.completionHooks.push(hook);
  }

  /** A verified provider event about a hosted checkout. */
  async applyEvent(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    const merchantId = event.merchantId;
    if (!merchantId) return 'ignored';
    const session =
      (event.providerSessionId && (await this.sessions.findByProviderSession(merchantId, provider, event.providerSessionId))) ||
      (event.reference ? await this.sessions.findById(merchantId, event.reference) : null);
    if (!session) {
      this.logger.warn({ provider, eventId: event.eventId }, 'webhook for an unknown checkout session');
      return 'ignored';
    }
    if (event.kind === 'checkout.completed') await this.complete(session, provider, event);
    else if (event.kind === 'checkout.attempt_failed') await this.attemptFailed(session, provider, event);
    else if (event.kind === 'checkout.expired') {
      // A provider page the session has left (the hosted checkout opened it at another page, closing this
      // one) expiring is not the session expiring.
      if (event.providerSessionId && session.providerSessionId && event.providerSessionId !== session.providerSessionId) return 'ignored';
      await this.checkout.expire(merchantId, session.id);
    } else return 'ignored';
    return 'processed';
  }

  /**
   * The customer paid. Money moved, so it is recorded whatever the session's state (even expired or
   * canceled): the session's pending payment succeeds, or a new payment is recorded if that one already
   * failed (an earlier declined attempt).
   */
  private async complete(session: CheckoutSession, provider: ProviderId, event: ProviderWebhookEvent): Promise<void> {
    const providerRef = event.providerRef ?? event.providerSessionId ?? event.eventId;
    await this.db.transaction(async (tx) => {
      const locked = (await this.sessions.findByIdForUpdate(session.merchantId, session.id, tx)) as CheckoutSession;
      const already = await this.payments.findByProviderRef(session.merchantId, provider, providerRef, tx);
      if (already) return; // this charge is recorded: a repeated event
      let payment = locked.paymentId ? await this.payments.findById(session.merchantId, locked.paymentId, tx) : null;
      if (!payment || !['pending', 'processing', 'requires_action'].includes(payment.status)) {
        // After an expiry or cancel the gift-card hold went back to the card: take it again if it can still
        // pay; otherwise the payment is what the provider charged, and the timeline says why.
        const releasedCard = locked.status !== 'open' && locked.giftCardCode !== null && locked.giftCardApplied > 0;
        const withCard =
          !releasedCard || (await this.holds.canHold(locked.merchantId, locked.giftCardCode as string, locked.giftCardApplied, tx));
        payment = await this.newSessionPayment(locked, provider, tx, withCard);
        if (releasedCard && withCard) {
          await this.holds.hold(tx, locked.merchantId, locked.giftCardCode as string, locked.giftCardApplied, locked.currency, payment.id);
        } else if (releasedCard) {
          await this.payments.addTimelineEntry(
            locked.merchantId,
            payment.id,
            'note',
            { giftCard: 'could not be charged again after the session closed' },
            tx,
          );
        }
      }
      await this.payments.addTimelineEntry(
        session.merchantId,
        payment.id,
        'webhook',
        { provider, eventId: event.eventId, type: event.type },
        tx,
      );
      await this.methodSaved(tx, locked, payment, provider, event);
      const succeeded = await this.outcomes.succeed(tx, payment, provider, providerRef, null, { eventId: event.eventId });
      if (succeeded) for (const hook of this.completionHooks) await hook(tx, locked, succeeded);
      if (await this.sessions.transition(session.merchantId, session.id, ['open', 'expired', 'canceled'], 'complete', tx)) {
        await this.outbox.insert([checkoutEvent({ ...locked, paymentId: payment.id }, 'checkout.completed')], tx);
      }
    });
  }

  /**
   * A session that saves the method: the method its page saved (the confirmed event's) is stored for the
   * customer, and what was recorded with the session (subscriptions) follows the paying payment and method.
   */
  private async methodSaved(
    tx: Transaction,
    session: CheckoutSession,
    payment: Payment,
    provider: ProviderId,
    event: ProviderWebhookEvent,
  ) {
    if (!session.savePaymentMethod) return;
    const saved = event.savedMethod;
    const pm = saved
      ? await this.methods.insert(session.merchantId, { id: newId('pm'), customerId: session.customer.id, provider, ...saved }, tx)
      : null;
    if (!pm) {
      this.logger.warn({ sessionId: session.id, provider }, 'the hosted page did not save the payment method');
      await this.payments.addTimelineEntry(session.merchantId, payment.id, 'note', { paymentMethod: 'not saved by the hosted page' }, tx);
    }
    await this.hooks.sessionPaying(tx, {
      merchantId: session.merchantId,
      checkoutSessionId: session.id,
      paymentId: payment.id,
      paymentMethodId: pm?.id ?? null,
    });
  }

  /** A declined attempt on the hosted page: that payment fails; the session stays open for another try. */
  private async attemptFailed(session: CheckoutSession, provider: ProviderId, event: ProviderWebhookEvent): Promise<void> {
    await this.db.transaction(async (tx) => {
      const locked = (await this.sessions.findByIdForUpdate(session.merchantId, session.id, tx)) as CheckoutSession;
      const payment = locked.paymentId ? await this.payments.findById(session.merchantId, locked.paymentId, tx) : null;
      if (!payment) return;
      await this.payments.addTimelineEntry(
        session.merchantId,
        payment.id,
        'webhook',
        { provider, eventId: event.eventId, type: event.type, providerRef: event.providerRef ?? null },
        tx,
      );
      // The failed payment does not take the provider's reference: on a hosted page it may name the whole
      // session's charge, which the next attempt can still pay (Stripe keeps one PaymentIntent per Checkout
      // Session), and the completion that records that payment needs it. The timeline entry keeps it.
      await this.outcomes.fail(
        tx,
        payment,
        {
          code: 'card_declined',
          message: 'The card was declined on the hosted page.',
          declineCode: event.declineCode ?? 'generic_decline',
          provider,
        },
        null,
      );
    });
  }

  private async newSessionPayment(session: CheckoutSession, provider: ProviderId, tx: Executor, withGiftCard = true): Promise<Payment> {
    const paidByCard = withGiftCard ? session.giftCardApplied : 0;
    const id = newId('pay');
    await this.payments.insert(
      {
        merchantId: session.merchantId,
        id,
        status: 'pending',
        amount: session.total + paidByCard,
        currency: session.currency,
        provider,
        customer: { id: session.customer.id },
        checkoutSessionId: session.id,
        lines: session.lines,
        discount: session.discount,
        idempotencyKey: null,
        retryOf: null,
        metadata: session.metadata,
        couponCode: session.couponCode,
        giftCardCode: paidByCard ? session.giftCardCode : null,
        giftCardAmount: paidByCard,
      },
      null,
      tx,
    );
    await this.sessions.setPayment(session.merchantId, session.id, id, tx);
    return (await this.payments.findById(session.merchantId, id, tx)) as Payment;
  }
}
