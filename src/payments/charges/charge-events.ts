import { Injectable, Logger } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { isOpen, SETTLED } from '../outcomes/payment-state';
import { PaymentsRepository } from '../payments.repository';
import type { Payment } from '../payments.types';
import type { ProviderId, ProviderWebhookEvent } from '../providers/payment-provider';

/**
 * A successful charge the payment does not account for: the payment was closed (failed, canceled) before
 * the provider reported it, or another charge paid it (a second charge for one payment).
 */
function unaccountedCharge(payment: Pick<Payment, 'status' | 'providerRef'>, providerRef: string): boolean {
  if (isOpen(payment.status)) return false;
  if (!SETTLED.includes(payment.status)) return true; // failed, canceled
  return payment.providerRef !== null && payment.providerRef !== providerRef;
}

/** Verified provider events about a direct charge: 3-D Secure completed or failed, an async settlement. */
@Injectable()
export class ChargeEvents {
  private readonly logger = new Logger(ChargeEvents.name);

  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  async applyEvent(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    if (!event.merchantId || !event.providerRef) return 'ignored';
    const merchantId = event.merchantId;
    const payment = await this.payments.findForEvent(merchantId, provider, event.providerRef, event.reference);
    if (!payment) {
      // A hosted checkout's charge event can arrive before its checkout event: that one records it.
      if (!event.reference?.startsWith('cs_')) this.logger.warn({ provider, eventId: event.eventId }, 'webhook for an unknown payment');
      return 'ignored';
    }
    await this.db.transaction(async (tx) => {
      await this.payments.addTimelineEntry(merchantId, payment.id, 'webhook', { provider, eventId: event.eventId, type: event.type }, tx);
      if (event.kind === 'payment.succeeded') {
        const providerRef = event.providerRef as string;
        const succeeded = await this.outcomes.succeed(tx, payment, provider, providerRef, null, { eventId: event.eventId });
        // A hosted checkout's payments are recorded by its completion, whatever the session's state
        // (CheckoutEvents.complete). Otherwise money the payment does not account for (decided on the row
        // as it is now, locked) never moves it backwards: it is booked to suspense, once per charge.
        const current = succeeded || payment.checkoutSessionId ? null : await this.payments.findByIdForUpdate(merchantId, payment.id, tx);
        if (current && unaccountedCharge(current, providerRef)) {
          const reported = event.amount !== undefined && event.amount > 0 && event.currency !== undefined;
          const charge = reported
            ? { providerRef, amount: event.amount as number, currency: event.currency as string }
            : { providerRef, amount: payment.amount - payment.giftCardAmount, currency: payment.currency };
          if (await this.outcomes.unmatchedCharge(tx, payment, provider, charge)) {
            this.logger.error(
              { paymentId: payment.id, provider, eventId: event.eventId, providerRef, amount: charge.amount, currency: charge.currency },
              'provider reports a charge the payment does not account for: booked to suspense, reconcile',
            );
            await this.payments.flagForReconciliation(
              merchantId,
              payment.id,
              'provider reports a charge the payment does not account for',
              { suspense: charge },
              tx,
            );
          }
        }
      } else if (event.kind === 'payment.failed') {
        await this.outcomes.fail(
          tx,
          payment,
          {
            code: 'card_declined',
            message: 'The provider reported the payment as failed.',
            declineCode: event.declineCode ?? 'generic_decline',
            provider,
            providerRef: event.providerRef,
          },
          null,
        );
      }
    });
    return 'processed';
  }
}
