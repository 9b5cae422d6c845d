import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/errors/domain-errors';
import type { PaymentProvider, ProviderId } from './payment-provider';

/** Maps a provider id to its adapter. Only configured providers are registered. */
@Injectable()
export class ProviderRegistry {
  private readonly providers = new Map<ProviderId, PaymentProvider>();

  register(provider: PaymentProvider): void {
    this.providers.set(provider.id, provider);
  }

  has(id: string): id is ProviderId {
    return this.providers.has(id as ProviderId);
  }

  get(id: string): PaymentProvider {
    const provider = this.providers.get(id as ProviderId);
    if (!provider)
      throw new DomainError('invalid_request', 'provider_not_available', `Provider '${id}' is not configured.`, { param: 'provider' });
    return provider;
  }

  ids(): ProviderId[] {
    return [...this.providers.keys()];
  }
}
