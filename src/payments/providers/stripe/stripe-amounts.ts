import { currencyExponent, isSupportedCurrency } from '../../../common/money';

// ---------------------------------------------------------------- amounts

/**
 * Where Stripe's minor unit differs from ISO 4217 (https://docs.stripe.com/currencies#special-cases):
 * ISK is zero-decimal but Stripe still takes it as a two-decimal amount ending in 00. Three-decimal
 * currencies (KWD, BHD, JOD, OMR, TND) use three decimals at Stripe too (with a last digit of 0 for
 * charges; Stripe refuses others, and that refusal reaches the client).
 */
const STRIPE_EXPONENTS: Readonly<Record<string, number>> = { ISK: 2 };

function exponentShift(currency: string): number {
  const upper = currency.toUpperCase();
  return (STRIPE_EXPONENTS[upper] ?? currencyExponent(upper)) - currencyExponent(upper);
}

/** Our minor units → Stripe's `amount` (integer arithmetic only). */
export function toStripeAmount(amount: number, currency: string): number {
  if (!Number.isSafeInteger(amount)) throw new Error(`Amount must be an integer in minor units, got ${amount}`);
  return amount * 10 ** exponentShift(currency);
}

/** Stripe's `amount` → our minor units. */
export function fromStripeAmount(amount: number, currency: string): number {
  const factor = 10 ** exponentShift(currency);
  if (amount % factor !== 0) throw new Error(`Stripe amount ${amount} ${currency} is not a whole ${currency.toUpperCase()} minor unit`);
  return amount / factor;
}

/** Amount of a webhook object, or undefined when its currency is not one we handle (an object we did not create). */
export function eventAmount(
  amount: number | null | undefined,
  currency: string | null | undefined,
): { amount?: number; currency?: string } {
  if (!currency) return {};
  const upper = currency.toUpperCase();
  if (!isSupportedCurrency(upper)) return { currency: upper };
  return { currency: upper, amount: typeof amount === 'number' ? fromStripeAmount(amount, upper) : undefined };
}

export type Expandable = string | { id: string } | null | undefined;

export function idOf(value: Expandable): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}

/** STRIPE_API_BASE (scheme://host:port) as the SDK's host/port/protocol; unset: Stripe itself. */
export function apiBase(base: string | undefined): { host?: string; port?: number; protocol?: 'http' | 'https' } {
  if (!base) return {};
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`STRIPE_API_BASE must be http(s)://host[:port], got ${base}`);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}
