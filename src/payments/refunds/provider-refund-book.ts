import { Injectable, Logger } from '@nestjs/common';
import { newId } from '../../common/ids';
import type { Transaction } from '../../database/database.types';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import type { Payment } from '../payments.types';
import type { ProviderId } from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { RefundsRepository } from './refunds.repository';

/** A payment that bought a gift card: refunding it would leave the card spendable. */
export function boughtGiftCard(payment: Payment): boolean {
  return (payment.lines ?? []).some((line) => line.productType === 'GIFT_CARD');
}

/**
 * What a provider shows refunded of a charge, and the refunds made there (its dashboard) that we did not
 * make: asked of the provider, never taken from a report's word. Used by our refunds, the provider's
 * refund reports and the give-back of charges held in suspense.
 */
@Injectable()
export class ProviderRefundBook {
  private readonly logger = new Logger(ProviderRefundBook.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly registry: ProviderRegistry,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  /** How much of this charge the provider shows refunded now, ours and any made in its dashboard. */
  async refundedTotal(provider: ProviderId, providerRef: string, paymentId?: string): Promise<{ amount: number; currency: string }> {
    // By the charge's reference; a provider that looks charges up by our key finds none under this one.
    const found = await this.registry.get(provider).retrieve({ providerRef, idempotencyKey: providerRef, reference: paymentId });
    if (!found) throw new Error(`${provider} shows no charge ${providerRef}`);
    return { amount: found.amountRefunded, currency: found.currency };
  }

  /**
   * What the provider shows refunded beyond the refunds we know of (succeeded, or held for one of ours
   * not settled yet) was refunded outside this API: it is recorded as one succeeded refund of origin
   * `provider` and booked like any refund. Runs under the payment's row lock, when a report arrives
   * and when one of our refunds fails (while held it hid that much of the provider's total).
   */
  async bookRefundsMadeAtProvider(
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
}
