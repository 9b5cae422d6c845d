import { Injectable } from '@nestjs/common';
import { CheckoutEvents } from './checkout/checkout-events';
import { ChargeEvents } from './charges/charge-events';
import { ProviderRefunds } from './refunds/provider-refunds';
import { ProviderId, ProviderWebhookEvent, WebhookVerificationError } from './providers/payment-provider';
import { ProviderRegistry } from './providers/provider-registry';

/** Routes a verified, stored provider event to the service that owns what it is about. */
@Injectable()
export class ProviderEventsHandler {
  constructor(
    private readonly checkout: CheckoutEvents,
    private readonly charges: ChargeEvents,
    private readonly refunds: ProviderRefunds,
    private readonly registry: ProviderRegistry,
  ) {}

  async handle(provider: ProviderId, stored: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    const adapter = this.registry.get(provider);
    let event = stored;
    if (adapter.confirmEvent) {
      try {
        event = await adapter.confirmEvent(stored);
      } catch (err) {
        if (err instanceof WebhookVerificationError) return 'ignored'; // the provider does not confirm it
        throw err; // the provider's API is down: retried with backoff
      }
    }
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
      default:
        return 'ignored';
    }
  }
}
