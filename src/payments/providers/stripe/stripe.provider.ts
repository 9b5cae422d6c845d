import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../../config/env';
import type {
  ChargeInput,
  CreateCheckoutInput,
  PaymentProvider,
  ProviderCheckout,
  ProviderPayment,
  ProviderRefund,
  ProviderWebhookEvent,
  RefundInput,
  WebhookRequest,
} from '../payment-provider';

// SKELETON: being implemented (issue 4). Registered only when STRIPE_SECRET_KEY is set.
@Injectable()
export class StripeProvider implements PaymentProvider {
  readonly id = 'stripe' as const;
  readonly configured: boolean;

  constructor(config: ConfigService<Env, true>) {
    this.configured = Boolean(config.get('STRIPE_SECRET_KEY', { infer: true }));
  }

  createCheckout(_input: CreateCheckoutInput): Promise<ProviderCheckout> {
    throw new Error('StripeProvider.createCheckout: not implemented yet');
  }

  charge(_input: ChargeInput): Promise<ProviderPayment> {
    throw new Error('StripeProvider.charge: not implemented yet');
  }

  retrieve(_lookup: { providerRef?: string | null; idempotencyKey: string }): Promise<ProviderPayment | null> {
    throw new Error('StripeProvider.retrieve: not implemented yet');
  }

  refund(_input: RefundInput): Promise<ProviderRefund> {
    throw new Error('StripeProvider.refund: not implemented yet');
  }

  cancelCheckout(_providerSessionId: string): Promise<void> {
    throw new Error('StripeProvider.cancelCheckout: not implemented yet');
  }

  parseWebhook(_request: WebhookRequest): Promise<ProviderWebhookEvent> {
    throw new Error('StripeProvider.parseWebhook: not implemented yet');
  }
}
