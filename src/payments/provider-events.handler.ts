import { Injectable } from '@nestjs/common';
import { CheckoutService } from './checkout.service';
import { PaymentsService } from './payments.service';
import type { ProviderId, ProviderWebhookEvent } from './providers/payment-provider';

/** Routes a verified, stored provider event to the service that owns what it is about. */
@Injectable()
export class ProviderEventsHandler {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly payments: PaymentsService,
  ) {}

  handle(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    switch (event.kind) {
      case 'checkout.completed':
      case 'checkout.attempt_failed':
      case 'checkout.expired':
        return this.checkout.applyEvent(provider, event);
      case 'payment.succeeded':
      case 'payment.failed':
        return this.payments.applyEvent(provider, event);
      default:
        return Promise.resolve('ignored');
    }
  }
}
