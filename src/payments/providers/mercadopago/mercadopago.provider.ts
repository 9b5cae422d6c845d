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

// SKELETON: being implemented (issue 4). Registered only when MERCADOPAGO_ACCESS_TOKEN is set.
@Injectable()
export class MercadoPagoProvider implements PaymentProvider {
  readonly id = 'mercadopago' as const;
  readonly configured: boolean;

  constructor(config: ConfigService<Env, true>) {
    this.configured = Boolean(config.get('MERCADOPAGO_ACCESS_TOKEN', { infer: true }));
  }

  createCheckout(_input: CreateCheckoutInput): Promise<ProviderCheckout> {
    throw new Error('MercadoPagoProvider.createCheckout: not implemented yet');
  }

  charge(_input: ChargeInput): Promise<ProviderPayment> {
    throw new Error('MercadoPagoProvider.charge: not implemented yet');
  }

  retrieve(_lookup: { providerRef?: string | null; idempotencyKey: string }): Promise<ProviderPayment | null> {
    throw new Error('MercadoPagoProvider.retrieve: not implemented yet');
  }

  refund(_input: RefundInput): Promise<ProviderRefund> {
    throw new Error('MercadoPagoProvider.refund: not implemented yet');
  }

  cancelCheckout(_providerSessionId: string): Promise<void> {
    throw new Error('MercadoPagoProvider.cancelCheckout: not implemented yet');
  }

  parseWebhook(_request: WebhookRequest): Promise<ProviderWebhookEvent> {
    throw new Error('MercadoPagoProvider.parseWebhook: not implemented yet');
  }
}
