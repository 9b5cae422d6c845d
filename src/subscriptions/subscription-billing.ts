import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BillingClock } from '../common/clock/billing-clock';
import { DomainError } from '../common/errors/domain-errors';
import { newId } from '../common/ids';
import type { Env } from '../config/env';
import { CouponsService } from '../coupons/coupons.service';
import type { Transaction } from '../database/database.types';
import type { EventType } from '../events/events.types';
import { OutboxRepository } from '../events/outbox.repository';
import { PaymentHooks, RecordedPurchase } from '../payments/payment-hooks';
import type { Payment } from '../payments/payments.types';
import type { DiscountedCart } from '../payments/pricing.service';
import type { ProviderId } from '../payments/providers/payment-provider';
import { isHardDecline, nextDunningDue, nextRetryAt, openDunning, parseRetryDays, PROVIDER_DOWN_RETRY_MS } from './dunning-rules';
import { InvoicesRepository } from './invoices.repository';
import { SubscriptionsRepository } from './subscriptions.repository';
import { InvoiceRow, PAYBRIDGE_RENEWED, PROVIDER_RENEWED, SubscriptionRow } from './subscriptions.types';

/**
 * How payments move subscriptions, inside the transaction that settles the payment (PaymentHooks): a
 * purchase creates its subscriptions (incomplete) beside its first payment; that payment's success makes
 * them active; a renewal's success renews, its failure starts or continues dunning. Whoever settles the
 * payment (the request, a webhook, the recovery job, the renewal job) moves the subscription with it,
 * all or nothing. Also the subscription events, through the outbox, in the same transaction.
 */
@Injectable()
export class SubscriptionBilling implements OnModuleInit {
  private readonly retryDays: number[];
  private readonly graceDays: number;
  private readonly finalAction: 'unpaid' | 'cancel';

  constructor(
    private readonly hooks: PaymentHooks,
    private readonly subscriptions: SubscriptionsRepository,
    private readonly invoices: InvoicesRepository,
    private readonly outbox: OutboxRepository,
    private readonly clock: BillingClock,
    private readonly coupons: CouponsService,
    config: ConfigService<Env, true>,
  ) {
    this.retryDays = parseRetryDays(config.get('DUNNING_RETRY_DAYS', { infer: true }));
    this.graceDays = config.get('DUNNING_GRACE_DAYS', { infer: true });
    this.finalAction = config.get('DUNNING_FINAL_ACTION', { infer: true });
  }

  onModuleInit(): void {
    this.hooks.onPurchase({
      check: (m, cart, provider) => this.check(m, cart, provider),
      recorded: (tx, p) => this.recorded(tx, p),
      sessionPaying: async (tx, p) => void (await this.subscriptions.moveToSessionPayment(p, tx)),
    });
    this.hooks.onOutcome((tx, payment, outcome) => this.onOutcome(tx, payment, outcome));
  }

  /** A cart with subscription lines needs a provider that renews: Paybridge's renewal job, or the provider itself. */
  private check(_merchantId: string, cart: DiscountedCart, provider: ProviderId | null): void {
    if (!cart.lines.some((l) => l.interval)) return;
    if (provider === null) {
      throw new DomainError('unprocessable', 'payment_method_required', 'A subscription needs a payment method for its renewals.', {
        param: 'paymentMethod',
      });
    }
    if (!PAYBRIDGE_RENEWED.includes(provider) && !PROVIDER_RENEWED.includes(provider)) {
      throw new DomainError(
        'unprocessable',
        'subscription_provider_not_supported',
        `Subscriptions are not sold through ${provider} yet (simulator and mercadopago renew through Paybridge, segpay and stripe by themselves).`,
        { param: 'provider' },
      );
    }
    // Stripe Billing bills the subscription itself, its first invoice included: the cart is that one line, at its price.
    if (provider === 'stripe' && (cart.lines.length !== 1 || cart.discount > 0)) {
      throw new DomainError(
        'unprocessable',
        'subscription_cart_not_supported',
        'A subscription through Stripe is bought alone (one line, no coupon): Stripe bills it, its first invoice included.',
        { param: 'items' },
      );
    }
  }

  /** One subscription per subscription line, with its first invoice, beside the first payment. */
  private recorded(tx: Transaction, purchase: RecordedPurchase): void {
    const managedBy = PAYBRIDGE_RENEWED.includes(purchase.provider) ? 'paybridge' : 'provider';
    for (const line of purchase.cart.lines) {
      if (!line.interval || !line.productId) continue;
      const discount = line.discount ?? 0;
      tx.later(
        this.subscriptions.insert(
          {
            merchantId: purchase.merchantId,
            id: newId('sub'),
            customerId: purchase.customerId,
            productId: line.productId,
            quantity: line.quantity,
            provider: purchase.provider,
            managedBy,
            amount: line.amount,
            currency: purchase.currency,
            interval: line.interval,
            paymentMethodId: purchase.paymentMethodId,
            firstPaymentId: purchase.paymentId,
            couponCode: discount > 0 ? purchase.cart.couponCode : null,
            // The provider bills its renewals at its own price: a coupon discounts only the first payment there.
            renewalDiscount: managedBy === 'paybridge' ? discount : 0,
            firstInvoice: { id: newId('in'), amount: line.amount - discount, discount },
          },
          tx,
        ),
      );
    }
  }

  private async onOutcome(tx: Transaction, payment: Payment, outcome: 'succeeded' | 'failed'): Promise<void> {
    // Only payments with subscription lines (a purchase, a renewal, a proration) concern subscriptions.
    if (!payment.lines?.some((l) => l.interval)) return;
    if (outcome === 'succeeded') {
      const start = await this.now(payment, tx);
      // Periods are calendar months or years from now (addMonths: the one rule renewals use too).
      const period = { start, monthEnd: addMonths(start, 1), yearEnd: addMonths(start, 12) };
      const activated = await this.subscriptions.activateByFirstPayment(payment.merchantId, payment.id, period, tx);
      if (activated.length > 0) {
        await this.invoices.paidFirst(payment.merchantId, payment.id, tx);
        for (const { id } of activated) await this.activated(tx, payment.merchantId, id);
        return;
      }
    }
    const invoice = await this.invoices.findByPaymentForUpdate(payment.merchantId, payment.id, tx);
    if (!invoice || invoice.status !== 'open' || invoice.kind === 'first') return;
    const sub = (await this.subscriptions.findForUpdate(payment.merchantId, invoice.subscription_id, tx)) as SubscriptionRow;
    if (outcome === 'succeeded') await this.invoicePaid(tx, sub, invoice);
    else await this.invoiceFailed(tx, sub, invoice, payment);
  }

  private async activated(tx: Transaction, merchantId: string, id: string): Promise<void> {
    const sub = (await this.subscriptions.find(merchantId, id, tx)) as SubscriptionRow;
    if (sub.coupon_code && sub.renewal_discount > 0 && sub.current_period_start) {
      const duration = await this.coupons.durationOf(merchantId, sub.coupon_code);
      const start = sub.current_period_start;
      const endsAt =
        duration.duration === 'forever'
          ? null
          : duration.duration === 'repeating'
            ? addMonths(start, duration.durationInMonths ?? 1)
            : start;
      await this.subscriptions.setDiscountEnd(merchantId, id, endsAt, tx);
    }
    await this.event(tx, sub, 'subscription.activated');
  }

  /** A renewal or proration paid. A renewal moves the period and brings a past-due subscription back. */
  async invoicePaid(tx: Transaction, sub: SubscriptionRow, invoice: InvoiceRow): Promise<void> {
    await this.invoices.setStatus(sub.merchant_id, invoice.id, 'paid', tx);
    if (invoice.kind === 'proration') {
      await this.subscriptions.changeProduct(
        sub.merchant_id,
        sub.id,
        invoice.change_product_id as string,
        invoice.change_amount as number,
        tx,
      );
      return;
    }
    await this.subscriptions.renewed(sub.merchant_id, sub.id, { start: invoice.period_start, end: invoice.period_end }, tx);
    await this.event(tx, sub, 'subscription.renewed', { invoiceId: invoice.id, currentPeriodEnd: invoice.period_end });
  }

  /**
   * A renewal's attempt failed. A decline: past_due (subscription.past_due the first time), retried on
   * the invoice's schedule unless hard. An unavailable provider: tried again later, not a decline.
   */
  private async invoiceFailed(tx: Transaction, sub: SubscriptionRow, invoice: InvoiceRow, payment: Payment): Promise<void> {
    if (invoice.kind === 'proration') {
      await this.invoices.setStatus(sub.merchant_id, invoice.id, 'void', tx);
      return;
    }
    const now = await this.now(payment, tx);
    if (sub.managed_by === 'provider') return this.providerDeclined(tx, sub, invoice, now);
    if (payment.failureCode !== 'card_declined') {
      const retryAt = new Date(now.getTime() + PROVIDER_DOWN_RETRY_MS);
      const failure = {
        declines: invoice.declines,
        retryDays: invoice.retry_days,
        firstFailedAt: invoice.first_failed_at,
        graceEndsAt: invoice.grace_ends_at,
        nextRetryAt: retryAt,
        hardDeclined: invoice.hard_declined,
      };
      await this.invoices.failed(sub.merchant_id, invoice.id, failure, tx);
      await this.subscriptions.setState(sub.merchant_id, sub.id, sub.status, retryAt, tx);
      return;
    }
    const opened = invoice.first_failed_at
      ? { firstFailedAt: invoice.first_failed_at, retryDays: invoice.retry_days ?? [], graceEndsAt: invoice.grace_ends_at as Date }
      : openDunning(now, this.retryDays, this.graceDays);
    const state = { ...opened, declines: invoice.declines + 1, hardDeclined: isHardDecline(payment.declineCode) };
    const retryAt = nextRetryAt(state);
    await this.invoices.failed(sub.merchant_id, invoice.id, { ...state, nextRetryAt: retryAt }, tx);
    await this.subscriptions.setState(sub.merchant_id, sub.id, 'past_due', nextDunningDue(retryAt, state.graceEndsAt), tx);
    if (sub.status !== 'past_due') {
      await this.event(tx, sub, 'subscription.past_due', { invoiceId: invoice.id, declineCode: payment.declineCode, nextRetryAt: retryAt });
    }
  }

  /**
   * A provider-managed renewal declined: past_due (subscription.past_due the first time), no retry of
   * ours (the renewal job never charges it): the provider retries on its own schedule and its next
   * event pays this invoice or ends the subscription.
   */
  private async providerDeclined(tx: Transaction, sub: SubscriptionRow, invoice: InvoiceRow, now: Date): Promise<void> {
    const failure = {
      declines: invoice.declines + 1,
      retryDays: null,
      firstFailedAt: invoice.first_failed_at ?? now,
      graceEndsAt: null,
      nextRetryAt: null,
      hardDeclined: false,
    };
    await this.invoices.failed(sub.merchant_id, invoice.id, failure, tx);
    await this.subscriptions.setState(sub.merchant_id, sub.id, 'past_due', null, tx);
    if (sub.status !== 'past_due') await this.event(tx, sub, 'subscription.past_due', { invoiceId: invoice.id, nextRetryAt: null });
  }

  /** Retries and grace spent: unpaid (or canceled with DUNNING_FINAL_ACTION=cancel), subscription.failed once. */
  async dunningSpent(tx: Transaction, sub: SubscriptionRow, invoice: InvoiceRow, now: Date): Promise<void> {
    await this.invoices.setStatus(sub.merchant_id, invoice.id, 'uncollectible', tx);
    if (this.finalAction === 'cancel') await this.subscriptions.cancel(sub.merchant_id, sub.id, now, tx);
    else await this.subscriptions.setState(sub.merchant_id, sub.id, 'unpaid', null, tx);
    await this.event(tx, sub, 'subscription.failed', {
      invoiceId: invoice.id,
      status: this.finalAction === 'cancel' ? 'canceled' : 'unpaid',
    });
    if (this.finalAction === 'cancel') await this.event(tx, sub, 'subscription.canceled', { reason: 'dunning' });
  }

  async event(tx: Transaction, sub: SubscriptionRow, type: EventType, extra: Record<string, unknown> = {}): Promise<void> {
    await this.outbox.insert(
      [
        {
          merchantId: sub.merchant_id,
          type,
          aggregateType: 'subscription',
          aggregateId: sub.id,
          data: {
            subscriptionId: sub.id,
            customer: { id: sub.customer_id, email: sub.customer_email },
            productId: sub.product_id,
            amount: sub.amount,
            currency: sub.currency,
            interval: sub.interval,
            ...extra,
          },
        },
      ],
      tx,
    );
  }

  private now(payment: Pick<Payment, 'merchantId'>, tx: Transaction): Promise<Date> {
    return this.clock.now(payment.merchantId, tx);
  }
}

/** `date` plus whole calendar months (UTC), the day clamped to the month's last (Jan 31 + 1 = Feb 28/29). */
export function addMonths(date: Date, months: number): Date {
  const d = new Date(date.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}
