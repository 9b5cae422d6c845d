import { Injectable } from '@nestjs/common';
import { BillingClock } from '../common/clock/billing-clock';
import { DomainError, NotFoundError } from '../common/errors/domain-errors';
import { newId } from '../common/ids';
import type { IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { toPage, type PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import { SavedCharges } from '../payments/charges/saved-charges';
import { errorForFailedPayment } from '../payments/payment-errors';
import { SavedMethods, savedRef } from '../payments/saved-methods';
import { ProductsService } from '../products/products.service';
import { priceIn } from '../products/products.types';
import type { ProviderId } from '../payments/providers/payment-provider';
import { InvoicesRepository } from './invoices.repository';
import { ProviderSubscriptionEvents } from './provider-subscription-events';
import { SubscriptionBilling } from './subscription-billing';
import { SubscriptionFilter, SubscriptionsRepository } from './subscriptions.repository';
import { invoiceView, SubscriptionRow, subscriptionView, SubscriptionView } from './subscriptions.types';

/**
 * An upgrade's charge now: the price difference for the rest of the period, to the second. Integer
 * arithmetic, rounded half up to the minor unit: round(diff × remaining / period).
 */
export function prorate(diff: number, remainingSeconds: number, periodSeconds: number): number {
  if (remainingSeconds <= 0 || periodSeconds <= 0) return 0;
  const numerator = BigInt(diff) * BigInt(Math.min(remainingSeconds, periodSeconds)) * 2n + BigInt(periodSeconds);
  return Number(numerator / (2n * BigInt(periodSeconds)));
}

const ENDED = ['canceled', 'unpaid'];

/** Resume, change of plan or method: Paybridge's own (a provider-managed subscription changes at its provider). */
function paybridgeManaged(sub: SubscriptionRow): void {
  if (sub.managed_by === 'provider')
    throw new DomainError(
      'unprocessable',
      'subscription_managed_by_provider',
      `Subscription ${sub.id} renews at ${sub.provider}: it can only be canceled through Paybridge.`,
    );
}

/** Reads and changes of subscriptions (API.md, Subscriptions); the money moves through SavedCharges. */
@Injectable()
export class SubscriptionsService {
  constructor(
    private readonly db: DatabaseService,
    private readonly subscriptions: SubscriptionsRepository,
    private readonly invoices: InvoicesRepository,
    private readonly billing: SubscriptionBilling,
    private readonly savedCharges: SavedCharges,
    private readonly savedMethods: SavedMethods,
    private readonly products: ProductsService,
    private readonly clock: BillingClock,
    private readonly providerManaged: ProviderSubscriptionEvents,
  ) {}

  async get(merchantId: string, id: string): Promise<SubscriptionView> {
    return subscriptionView(await this.row(merchantId, id));
  }

  async list(merchantId: string, filter: SubscriptionFilter, page: PageRequest) {
    const rows = await this.subscriptions.list(merchantId, filter, page.limit + 1);
    return toPage(rows.map(subscriptionView), page);
  }

  async invoicesOf(merchantId: string, id: string) {
    await this.row(merchantId, id);
    return { data: (await this.invoices.listForSubscription(merchantId, id)).map(invoiceView) };
  }

  /**
   * At the period end (default: it stays active until then) or now (subscription.canceled at once). A
   * past-due subscription's paid period is already over: it ends now, its open invoice void.
   * A provider-managed one is canceled at its provider first: at the period end where the provider can
   * (Stripe: its deletion event ends it here then), else now (the provider's event then finds it ended).
   */
  async cancel(merchantId: string, id: string, atPeriodEnd: boolean): Promise<SubscriptionView> {
    const current = await this.row(merchantId, id);
    if (current.managed_by === 'provider' && !ENDED.includes(current.status)) {
      atPeriodEnd = await this.providerManaged.cancelAtProvider(current, atPeriodEnd && current.status === 'active');
    }
    await this.db.transaction(async (tx) => {
      const sub = await this.lockOpen(merchantId, id, tx);
      if (atPeriodEnd && sub.status === 'active') {
        await this.subscriptions.setCancelAtPeriodEnd(merchantId, id, true, tx);
        return;
      }
      const open = sub.latest_invoice_id ? await this.invoices.findForUpdate(merchantId, sub.latest_invoice_id, tx) : null;
      if (open?.status === 'open') await this.invoices.setStatus(merchantId, open.id, 'void', tx);
      await this.subscriptions.cancel(merchantId, id, await this.clock.now(merchantId, tx), tx);
      await this.billing.event(tx, sub, 'subscription.canceled', { reason: 'requested' });
    });
    return this.get(merchantId, id);
  }

  /** Undoes a pending cancel at period end. */
  async resume(merchantId: string, id: string): Promise<SubscriptionView> {
    const current = await this.row(merchantId, id);
    // A provider-managed one resumes at its provider first (Stripe), where the provider can.
    const atProvider =
      current.managed_by === 'provider' && current.cancel_at_period_end && !ENDED.includes(current.status)
        ? await this.providerManaged.resumeAtProvider(current)
        : false;
    await this.db.transaction(async (tx) => {
      const sub = await this.lockOpen(merchantId, id, tx);
      if (!atProvider) paybridgeManaged(sub);
      if (!sub.cancel_at_period_end) {
        throw new DomainError('unprocessable', 'subscription_not_resumable', 'Only a subscription canceled at period end can be resumed.');
      }
      await this.subscriptions.setCancelAtPeriodEnd(merchantId, id, false, tx);
    });
    return this.get(merchantId, id);
  }

  /**
   * Another plan of the same interval and currency. An upgrade is charged now, prorated to the second
   * (prorate()), and takes effect when that payment succeeds (402 on a decline, nothing changed); a
   * downgrade (or the same price) waits for the period end.
   */
  async change(merchantId: string, id: string, productId: string, idem: IdempotencyContext): Promise<SubscriptionView> {
    const sub = await this.row(merchantId, id);
    const idempotencyKey = `change:${sub.id}:${idem.key}`;
    // A retry of a request that died after recording its payment charges that payment (same provider key).
    const recorded = await this.savedCharges.findByKey(merchantId, idempotencyKey);
    if (recorded) return this.settleChange(merchantId, id, recorded.id);
    paybridgeManaged(sub);
    if (sub.status !== 'active') throw new DomainError('unprocessable', 'subscription_not_active', `The subscription is ${sub.status}.`);
    const [product] = await this.products.findMany(merchantId, [productId]);
    if (!product || !product.active || product.archivedAt) {
      throw new DomainError('unprocessable', 'product_unavailable', `Product '${productId}' is not available.`, { param: 'productId' });
    }
    if (product.billingType !== 'SUBSCRIPTION' || product.interval !== sub.interval) {
      throw new DomainError(
        'unprocessable',
        'product_not_compatible',
        `A subscription changes only to a ${sub.interval}ly subscription product.`,
        {
          param: 'productId',
        },
      );
    }
    const unit = priceIn(product, sub.currency);
    if (unit === undefined) {
      throw new DomainError('unprocessable', 'price_unavailable', `Product '${productId}' has no ${sub.currency} price.`, {
        param: 'productId',
      });
    }
    const amount = unit * sub.quantity;
    const now = await this.clock.now(merchantId);
    const start = sub.current_period_start as Date;
    const end = sub.current_period_end as Date;
    const charge =
      amount > sub.amount
        ? prorate(
            amount - sub.amount,
            Math.floor((end.getTime() - now.getTime()) / 1000),
            Math.floor((end.getTime() - start.getTime()) / 1000),
          )
        : 0;
    if (charge === 0) {
      await this.db.transaction(async (tx) => {
        await this.lockOpen(merchantId, id, tx);
        if (amount > sub.amount) await this.subscriptions.changeProduct(merchantId, id, productId, amount, tx);
        else await this.subscriptions.setPending(merchantId, id, productId, amount, tx);
      });
      return this.get(merchantId, id);
    }
    const paymentId = newId('pay');
    await this.db.transaction(async (tx) => {
      await this.lockOpen(merchantId, id, tx);
      const invoiceId = newId('in');
      await this.invoices.insertProration(
        {
          merchantId,
          id: invoiceId,
          subscriptionId: id,
          amount: charge,
          currency: sub.currency,
          periodStart: now,
          periodEnd: end,
          paymentId,
          changeProductId: productId,
          changeAmount: amount,
        },
        tx,
      );
      this.savedCharges.recordSavedCharge(tx, {
        merchantId,
        paymentId,
        customerId: sub.customer_id,
        amount: charge,
        currency: sub.currency,
        lines: [
          {
            productId,
            name: `Upgrade of ${sub.id} to ${product.name}, prorated`,
            unitAmount: charge,
            quantity: 1,
            amount: charge,
            productType: 'STANDARD',
            interval: sub.interval,
          },
        ],
        discount: 0,
        idempotencyKey,
        paymentMethodId: sub.payment_method_id as string,
        provider: sub.provider as ProviderId,
      });
    });
    return this.settleChange(merchantId, id, paymentId);
  }

  private async settleChange(merchantId: string, id: string, paymentId: string): Promise<SubscriptionView> {
    const payment = await this.savedCharges.chargeSaved(merchantId, paymentId);
    if (payment?.status === 'failed') throw errorForFailedPayment(payment.failureCode, payment.declineCode);
    return this.get(merchantId, id);
  }

  /**
   * Another saved method of the same customer and provider. A past-due invoice stopped by a hard decline
   * (or with no retry left) is retried at once with it; otherwise its retries keep their planned days.
   */
  async setPaymentMethod(merchantId: string, id: string, paymentMethodId: string): Promise<SubscriptionView> {
    const sub = await this.row(merchantId, id);
    if (ENDED.includes(sub.status)) throw new DomainError('unprocessable', 'subscription_ended', `The subscription is ${sub.status}.`);
    const pm = await this.savedMethods.get(merchantId, paymentMethodId, sub.customer_id);
    if (pm.provider !== sub.provider) {
      throw new DomainError('unprocessable', 'payment_method_not_supported', `The subscription renews through ${sub.provider}.`, {
        param: 'paymentMethodId',
      });
    }
    // A provider-managed one changes at its provider first (Stripe: the subscription's default method; Stripe's
    // own retries of an open invoice then use it), where the provider can.
    if (sub.managed_by === 'provider') {
      if (!(await this.providerManaged.setMethodAtProvider(sub, savedRef(pm)))) paybridgeManaged(sub);
      await this.db.transaction(async (tx) => {
        await this.lockOpen(merchantId, id, tx);
        await this.subscriptions.setPaymentMethod(merchantId, id, pm.id, null, tx);
      });
      return this.get(merchantId, id);
    }
    await this.db.transaction(async (tx) => {
      const locked = await this.lockOpen(merchantId, id, tx);
      const invoice =
        locked.status === 'past_due' && locked.latest_invoice_id
          ? await this.invoices.findForUpdate(merchantId, locked.latest_invoice_id, tx)
          : null;
      const now = await this.clock.now(merchantId, tx);
      const retryNow = invoice !== null && (invoice.hard_declined || invoice.next_retry_at === null);
      if (invoice && retryNow) await this.invoices.retryAt(merchantId, invoice.id, now, tx);
      await this.subscriptions.setPaymentMethod(merchantId, id, pm.id, retryNow ? now : null, tx);
    });
    return this.get(merchantId, id);
  }

  private async row(merchantId: string, id: string): Promise<SubscriptionRow> {
    const sub = await this.subscriptions.find(merchantId, id);
    if (!sub) throw new NotFoundError('subscription', id);
    return sub;
  }

  private async lockOpen(
    merchantId: string,
    id: string,
    tx: Parameters<SubscriptionsRepository['findForUpdate']>[2],
  ): Promise<SubscriptionRow> {
    const sub = await this.subscriptions.findForUpdate(merchantId, id, tx);
    if (!sub) throw new NotFoundError('subscription', id);
    if (ENDED.includes(sub.status)) throw new DomainError('unprocessable', 'subscription_ended', `The subscription is ${sub.status}.`);
    return sub;
  }
}
