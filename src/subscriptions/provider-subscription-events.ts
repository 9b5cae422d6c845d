import { Injectable, OnModuleInit } from '@nestjs/common';
import { BillingClock } from '../common/clock/billing-clock';
import { newId } from '../common/ids';
import { DatabaseService } from '../database/database.service';
import type { Transaction } from '../database/database.types';
import { SavedCharges } from '../payments/charges/saved-charges';
import { PaymentHooks } from '../payments/payment-hooks';
import { PaymentsService } from '../payments/payments.service';
import { HeldEventError } from '../payments/provider-event-matcher';
import { ProviderRegistry } from '../payments/providers/provider-registry';
import type { ProviderId, ProviderWebhookEvent, SavedMethodRef } from '../payments/providers/payment-provider';
import { InvoicesRepository } from './invoices.repository';
import { SubscriptionBilling } from './subscription-billing';
import { renewalCharge, SubscriptionRenewals } from './subscription-renewals';
import { SubscriptionsRepository } from './subscriptions.repository';
import type { InvoiceRow, SubscriptionRow } from './subscriptions.types';

/**
 * Provider-managed subscriptions (`managedBy: "provider"`): the provider renews on its own schedule and
 * tells us, by events its own records confirmed (ProviderEventsHandler). A renewal is mirrored as a
 * paybridge-managed one is written: the renewal invoice of the next period (or the open one a failed
 * renewal left, which the provider retried), a saved-method payment recorded and settled through
 * PaymentOutcomes (SavedCharges.recordProviderCharge), and SubscriptionBilling moving the subscription
 * (renewed, or past_due with no retry of ours: the provider's retries stand). A cancellation ends it.
 * One payment per provider charge: its key is `provider-renewal:<provider>:<chargeKey or providerRef>`.
 */
@Injectable()
export class ProviderSubscriptionEvents implements OnModuleInit {
  constructor(
    private readonly hooks: PaymentHooks,
    private readonly db: DatabaseService,
    private readonly subscriptions: SubscriptionsRepository,
    private readonly invoices: InvoicesRepository,
    private readonly renewals: SubscriptionRenewals,
    private readonly billing: SubscriptionBilling,
    private readonly savedCharges: SavedCharges,
    private readonly clock: BillingClock,
    private readonly registry: ProviderRegistry,
    private readonly payments: PaymentsService,
  ) {}

  /**
   * Ends it at the provider (before anything is written here): at the period end when asked and the
   * provider can (answers true: its cancellation event ends it here then), else now (false).
   */
  async cancelAtProvider(sub: SubscriptionRow, atPeriodEnd: boolean): Promise<boolean> {
    const adapter = this.registry.get(sub.provider);
    const first = await this.payments.getById(sub.merchant_id, sub.first_payment_id);
    if (!adapter.cancelSubscription || !first.providerRef) throw new Error(`${sub.provider} cannot cancel subscription ${sub.id}`);
    if (atPeriodEnd && adapter.setCancelAtPeriodEnd) {
      await adapter.setCancelAtPeriodEnd(first.providerRef, true);
      return true;
    }
    await adapter.cancelSubscription(first.providerRef);
    return false;
  }

  /** Undoes a cancel at period end at the provider; false when the provider cannot (then nothing changes). */
  async resumeAtProvider(sub: SubscriptionRow): Promise<boolean> {
    const adapter = this.registry.get(sub.provider);
    const first = await this.payments.getById(sub.merchant_id, sub.first_payment_id);
    if (!adapter.setCancelAtPeriodEnd || !first.providerRef) return false;
    await adapter.setCancelAtPeriodEnd(first.providerRef, false);
    return true;
  }

  /** Has the provider renew it with another saved method; false when the provider cannot (then nothing changes). */
  async setMethodAtProvider(sub: SubscriptionRow, method: SavedMethodRef): Promise<boolean> {
    const adapter = this.registry.get(sub.provider);
    const first = await this.payments.getById(sub.merchant_id, sub.first_payment_id);
    if (!adapter.setSubscriptionMethod || !first.providerRef) return false;
    await adapter.setSubscriptionMethod(first.providerRef, method);
    return true;
  }

  onModuleInit(): void {
    this.hooks.onSubscriptionEvent({ check: (p, e) => this.check(p, e), apply: (p, e) => this.apply(p, e) });
  }

  /** A renewal that moved money must be of a provider-managed subscription of ours there, for its amount and currency. */
  private async check(provider: ProviderId, event: ProviderWebhookEvent): Promise<void> {
    const sub = await this.required(provider, event);
    const expected = sub.pending_amount ?? sub.amount;
    const problems: string[] = [];
    if (event.amount !== expected) problems.push(`amount ${event.amount ?? 'missing'}, the subscription renews at ${expected}`);
    if (event.currency?.toUpperCase() !== sub.currency.toUpperCase())
      problems.push(`currency ${event.currency ?? 'missing'}, the subscription is in ${sub.currency}`);
    if (problems.length > 0)
      throw new HeldEventError(`${provider} ${event.type} does not match subscription ${sub.id}: ${problems.join('; ')}`);
  }

  private async apply(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    // The end of something that is no subscription of ours changes nothing; a renewal of it is a dead letter.
    if (event.kind === 'subscription.canceled' && !(await this.subscriptionOf(provider, event))) return 'ignored';
    const found = await this.required(provider, event);
    return this.db.transaction(async (tx) => {
      const sub = (await this.subscriptions.findForUpdate(found.merchant_id, found.id, tx)) as SubscriptionRow;
      if (sub.status === 'canceled' || sub.status === 'incomplete') {
        // Money taken for a subscription that is not running here is for someone to look at, never dropped.
        if (event.kind === 'renewal.succeeded')
          throw new HeldEventError(`${provider} ${event.type} renews subscription ${sub.id}, which is ${sub.status}: not applied`);
        return 'ignored';
      }
      if (event.kind === 'subscription.canceled') {
        if (sub.latest_invoice_id && sub.status === 'past_due')
          await this.invoices.setStatus(sub.merchant_id, sub.latest_invoice_id, 'void', tx);
        await this.subscriptions.cancel(sub.merchant_id, sub.id, await this.clock.now(sub.merchant_id, tx), tx);
        await this.billing.event(tx, sub, 'subscription.canceled', { reason: 'provider' });
        return 'processed';
      }
      const key = `provider-renewal:${provider}:${event.chargeKey ?? event.providerRef}`;
      if (await this.savedCharges.findByKey(sub.merchant_id, key, tx)) return 'ignored'; // already mirrored
      const invoice = await this.invoiceToPay(tx, sub);
      const charge = renewalCharge(sub, invoice, newId('pay'), key);
      const result = {
        succeeded: event.kind === 'renewal.succeeded',
        providerRef: event.providerRef as string,
        eventId: event.eventId,
        type: event.type,
        declineCode: event.declineCode,
      };
      const { recorded } = await this.savedCharges.recordProviderCharge(tx, charge, result, () =>
        this.invoices.attempt(sub.merchant_id, invoice.id, charge.paymentId, invoice.attempts + 1, tx),
      );
      return recorded ? 'processed' : 'ignored';
    });
  }

  /** The open invoice a failed renewal left (the provider retried it), else the next period's. */
  private async invoiceToPay(tx: Transaction, sub: SubscriptionRow): Promise<InvoiceRow> {
    if (sub.status === 'past_due' && sub.latest_invoice_id) {
      const open = await this.invoices.findForUpdate(sub.merchant_id, sub.latest_invoice_id, tx);
      if (open?.status === 'open' && open.kind === 'renewal') return open;
    }
    return this.renewals.renewalInvoice(tx, sub);
  }

  /** The provider-managed subscription whose first payment is the charge the event names. */
  private async subscriptionOf(provider: ProviderId, event: ProviderWebhookEvent): Promise<SubscriptionRow | null> {
    if (!event.merchantId || !event.firstChargeRef) return null;
    return this.subscriptions.findByFirstCharge(event.merchantId, provider, event.firstChargeRef);
  }

  /** subscriptionOf, else a dead letter. */
  private async required(provider: ProviderId, event: ProviderWebhookEvent): Promise<SubscriptionRow> {
    const sub = await this.subscriptionOf(provider, event);
    if (!sub)
      throw new HeldEventError(
        `${provider} ${event.type} names no provider-managed subscription of merchant ${event.merchantId ?? '(none)'}`,
      );
    return sub;
  }
}
