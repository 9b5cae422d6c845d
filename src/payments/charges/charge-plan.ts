import { DomainError } from '../../common/errors/domain-errors';
import type { ProcessPaymentDto } from '../dto/checkout.dto';
import type { ProviderRouter } from '../routing/provider-router';
import type { PlannedMethod } from './charges.service';

/**
 * The providers to try, in routing order, among those the request gave a token for. A request that
 * names a provider (body `provider`) gets only that one.
 */
export function planMethods(dto: ProcessPaymentDto, router: ProviderRouter): PlannedMethod[] {
  const methods = [...(dto.paymentMethod ? [dto.paymentMethod] : []), ...(dto.paymentMethods ?? [])];
  if (methods.length === 0)
    throw new DomainError('invalid_request', 'parameter_missing', 'Give paymentMethod (or paymentMethods).', { param: 'paymentMethod' });
  const tokens = new Map(methods.map((m) => [m.provider, m.token]));
  const routed = dto.provider ? router.candidates(dto.currency, dto.provider) : router.candidates(dto.currency);
  const plan = routed.filter((p) => tokens.has(p)).map((provider) => ({ provider, token: tokens.get(provider) as string }));
  if (plan.length === 0) {
    throw new DomainError(
      'unprocessable',
      'provider_not_available',
      `No payment method given for a provider that takes ${dto.currency} (${routed.join(', ')}).`,
      { param: 'paymentMethod.provider' },
    );
  }
  return plan;
}
