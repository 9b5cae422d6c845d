import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../config/env';
import { DomainError } from '../../common/errors/domain-errors';
import type { ProviderId } from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';

/** `USD=stripe,simulator;BRL=mercadopago;*=simulator` → { USD: [stripe, simulator], … }. */
export function parseRouting(spec: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const rule of spec
    .split(';')
    .map((r) => r.trim())
    .filter(Boolean)) {
    const [currency, providers] = rule.split('=');
    if (!currency || !providers) throw new Error(`PROVIDER_ROUTING: bad rule '${rule}' (expected CUR=provider,provider)`);
    table.set(
      currency.trim().toUpperCase(),
      providers
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    );
  }
  return table;
}

/**
 * Which providers may take a payment in a currency, in order of preference (PROVIDER_ROUTING). A
 * provider that is not configured (no credentials) is left out.
 */
@Injectable()
export class ProviderRouter {
  private readonly table: Map<string, string[]>;

  constructor(
    private readonly registry: ProviderRegistry,
    config: ConfigService<Env, true>,
  ) {
    this.table = parseRouting(config.get('PROVIDER_ROUTING', { infer: true }));
  }

  /**
   * A provider the request names must be one the table routes this currency to: a provider charges in
   * the currencies its account takes (Mercado Pago's payments API has no currency field at all).
   */
  candidates(currency: string, requested?: string): ProviderId[] {
    const listed = this.table.get(currency) ?? this.table.get('*') ?? [];
    if (requested) {
      if (!this.registry.has(requested))
        throw new DomainError('unprocessable', 'provider_not_available', `Provider '${requested}' is not configured.`, {
          param: 'provider',
        });
      if (!listed.includes(requested))
        throw new DomainError('unprocessable', 'provider_not_available', `Provider '${requested}' does not take ${currency}.`, {
          param: 'provider',
        });
      return [requested as ProviderId];
    }
    const available = listed.filter((id): id is ProviderId => this.registry.has(id));
    if (available.length === 0) {
      throw new DomainError('unprocessable', 'currency_not_routable', `No configured provider takes ${currency}.`, { param: 'currency' });
    }
    return available;
  }
}
