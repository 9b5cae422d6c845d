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

// SKELETON: being implemented (issue 4). Registered only when SEGPAY_MERCHANT_ID is set.
@Injectable()
export class SegpayProvider implements PaymentProvider {
  readonly id = 'segpay' as const;
  readonly configured: boolean;

  constructor(config: ConfigService<Env, true>) {
    this.configured = Boolean(config.get('SEGPAY_MERCHANT_ID', { infer: true }));
  }

  createCheckout(_input: CreateCheckoutInput): Promise<ProviderCheckout> {
    throw new Error('SegpayProvider.createCheckout: not implemented yet');
  }

  charge(_input: ChargeInput): Promise<ProviderPayment> {
    throw new Error('SegpayProvider.charge: not implemented yet');
  }

  retrieve(_lookup: { providerRef?: string | null; idempotencyKey: string }): Promise<ProviderPayment | null> {
    throw new Error('SegpayProvider.retrieve: not implemented yet');
  }

  refund(_input: RefundInput): Promise<ProviderRefund> {
    throw new Error('SegpayProvider.refund: not implemented yet');
  }

  cancelCheckout(_providerSessionId: string): Promise<void> {
    throw new Error('SegpayProvider.cancelCheckout: not implemented yet');
  }

  parseWebhook(_request: WebhookRequest): Promise<ProviderWebhookEvent> {
    throw new Error('SegpayProvider.parseWebhook: not implemented yet');
  }
}
