import { DomainError } from '../../common/errors/domain-errors';
import type { ProcessPaymentDto } from '../dto/checkout.dto';
import type { ProviderRouter } from '../routing/provider-router';
import { normalizeEmail } from '../../customers/customers.types';
import type { DiscountedCart } from '../pricing.service';
import type { Attempt, Line } from '../payments.types';
import type { ProviderId, ProviderSubscriptionLine, SavedMethodRef } from '../providers/payment-provider';

/** A provider and the token the request gave for it: one step of a direct charge's failover plan. */
export interface PlannedMethod {
  provider: ProviderId;
  /** A one-time token, or our saved method's id (`pm_…`) with `saved`. */
  token: string;
  saved?: SavedMethodRef;
}

export type NewAttempt = Pick<Attempt, 'id' | 'provider' | 'providerKey' | 'paymentMethod'>;

/** The record of a direct charge (POST /payments/process) as phase 1 inserts it, processing. */
export function directPayment(
  merchantId: string,
  id: string,
  dto: ProcessPaymentDto,
  cart: DiscountedCart,
  key: string,
  clientIp: string | null,
) {
  return {
    merchantId,
    id,
    status: 'processing' as const,
    amount: cart.total,
    currency: dto.currency,
    customer: { email: normalizeEmail(dto.customer.email) },
    checkoutSessionId: null,
    lines: cart.lines,
    discount: cart.discount,
    fx: cart.fx ?? null,
    idempotencyKey: key,
    retryOf: null,
    metadata: dto.metadata ?? {},
    clientIp,
  };
}

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

/**
 * The provider's own price a charge sells through (ChargeInput.priceRef): Segpay's price point of the
 * cart's subscription line, else of its only line; undefined (the configured one) otherwise.
 */
export function priceRefOf(lines: Line[], provider: ProviderId): string | undefined {
  if (provider !== 'segpay') return undefined;
  const line = lines.find((l) => l.interval && l.segpayPricePoint) ?? (lines.length === 1 ? lines[0] : undefined);
  return line?.segpayPricePoint;
}

/**
 * The subscription line a charge starts at a provider whose Billing renews it (ChargeInput.subscription):
 * Stripe's, for a cart whose subscription line is its only line (SubscriptionBilling refuses any other).
 */
export function providerSubscriptionOf(lines: Line[], provider: ProviderId): ProviderSubscriptionLine | undefined {
  if (provider !== 'stripe') return undefined;
  const line = lines.find((l) => l.interval);
  return line?.interval ? { name: line.name, amount: line.amount, interval: line.interval } : undefined;
}
