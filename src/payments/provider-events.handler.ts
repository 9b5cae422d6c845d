import { Injectable } from '@nestjs/common';
import { DisputeEvents } from '../disputes/dispute-events';
import { CheckoutEvents } from './checkout/checkout-events';
import { ChargeEvents } from './charges/charge-events';
import { PaymentHooks } from './payment-hooks';
import { contradictions, HeldEventError, movesMoney, ProviderEventMatcher } from './provider-event-matcher';
import { ProviderRefunds } from './refunds/provider-refunds';
import { ProviderId, ProviderWebhookEvent, WebhookVerificationError } from './providers/payment-provider';
import { ProviderRegistry } from './providers/provider-registry';

/**
 * Routes a verified, stored provider event to the service that owns what it is about. A signature only
 * says who sent it: an event is first confirmed by the provider's own records (confirmEvent), and one
 * that says money moved is applied only if it matches what we asked for (ProviderEventMatcher).
 * Otherwise it throws HeldEventError and is kept as a dead letter; nothing that moves money is ignored.
 */
@Injectable()
export class ProviderEventsHandler {
  constructor(
    private readonly checkout: CheckoutEvents,
    private readonly charges: ChargeEvents,
    private readonly refunds: ProviderRefunds,
    private readonly registry: ProviderRegistry,
    private readonly matcher: ProviderEventMatcher,
    private readonly disputes: DisputeEvents,
    private readonly hooks: PaymentHooks,
  ) {}

  async handle(provider: ProviderId, stored: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    const event = await this.confirm(provider, stored);
    if (event === null) return 'ignored';
    await this.matcher.check(provider, event);
    switch (event.kind) {
      case 'checkout.completed':
      case 'checkout.attempt_failed':
      case 'checkout.expired':
        return this.checkout.applyEvent(provider, event);
      case 'payment.succeeded':
      case 'payment.failed':
        return this.charges.applyEvent(provider, event);
      case 'payment.refunded':
        return this.refunds.applyProviderEvent(provider, event);
      case 'dispute':
        return this.disputes.applyEvent(provider, event);
      case 'renewal.succeeded':
      case 'renewal.failed':
      case 'subscription.canceled':
        return (await this.hooks.subscriptionEvent?.apply(provider, event)) ?? 'ignored';
      default:
        return 'ignored';
    }
  }

  /**
   * The event as the provider's records show it; null for one that moves no money and that the provider
   * does not confirm (nothing to keep). A provider's API that is down throws: retried with backoff.
   */
  private async confirm(provider: ProviderId, stored: ProviderWebhookEvent): Promise<ProviderWebhookEvent | null> {
    const adapter = this.registry.get(provider);
    if (!adapter.confirmEvent) {
      if (movesMoney(stored)) throw new HeldEventError(`${provider} cannot confirm ${stored.type} events: not applied`);
      return stored;
    }
    let confirmed: ProviderWebhookEvent;
    try {
      confirmed = await adapter.confirmEvent(stored);
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      if (movesMoney(stored)) throw new HeldEventError(`${provider} does not confirm ${stored.type} ${stored.eventId}: ${err.message}`);
      return null;
    }
    const contradicted = contradictions(stored, confirmed);
    if (contradicted.length > 0 && (movesMoney(stored) || movesMoney(confirmed)))
      throw new HeldEventError(`${provider} does not confirm ${stored.type} ${stored.eventId}: ${contradicted.join('; ')}`);
    if (contradicted.length > 0) return null;
    return confirmed;
  }
}
