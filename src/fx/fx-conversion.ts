import { registerDecorator, ValidationOptions } from 'class-validator';
import { currencyExponent, isSupportedCurrency } from '../common/money';

/**
 * Currency conversion by integer arithmetic only (BigInt): a rate is an exact decimal, an amount an
 * integer in minor units, and the one rounding happens once, on the last minor unit of the result.
 *
 * Rounding rule: HALF-UP (a half minor unit or more rounds up, less rounds down). Amounts converted are
 * prices, never negative, so half-up is also "half away from zero".
 */

/** Rates: up to 12 integer digits and 12 decimals, above zero. */
export const RATE_PATTERN = /^(\d{1,12})(?:\.(\d{1,12}))?$/;
export const PAIR_PATTERN = /^([A-Z]{3})-([A-Z]{3})$/;

/** A decimal rate as numerator / 10^scale. */
interface ExactRate {
  numerator: bigint;
  scale: number;
}

/** "5.4321" → {54321n, 4}. Throws on anything but a positive plain decimal. */
function parseRate(text: string): ExactRate {
  const match = RATE_PATTERN.exec(text);
  if (!match) throw new RangeError(`Not a decimal rate: ${text}`);
  const [, whole, fraction = ''] = match;
  const numerator = BigInt(whole + fraction);
  if (numerator === 0n) throw new RangeError('A rate must be above zero');
  return { numerator, scale: fraction.length };
}

/** The canonical spelling of a rate: no leading zeros, no trailing decimal zeros ("05.4300" → "5.43"). */
export function normalizeRate(text: string): string {
  const { numerator, scale } = parseRate(text);
  const digits = numerator.toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
}

/** Whether `text` is a rate parseRate accepts (positive, at most 12 + 12 digits). */
export function isValidRate(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  try {
    parseRate(text);
    return true;
  } catch {
    return false;
  }
}

/** "USD-BRL" → ["USD", "BRL"] when both are currencies of the money table and differ; else null. */
export function parsePair(pair: string): [base: string, quote: string] | null {
  const match = PAIR_PATTERN.exec(pair);
  if (!match || match[1] === match[2] || !isSupportedCurrency(match[1]) || !isSupportedCurrency(match[2])) return null;
  return [match[1], match[2]];
}

/**
 * `amount` minor units of `from` in minor units of `to` at `rate` (units of `to` per one unit of `from`,
 * both major): amount × rate × 10^(exp(to) − exp(from)), rounded half-up to a whole minor unit of `to`.
 *   1999 USD (19.99) at USD-BRL 5.4321 → 10858.7679 centavos → 10859 (BRL 108.59)
 *   1999 USD at USD-JPY 151.37 → 3025.886… yen → 3026
 *   1000 USD (10.00) at USD-KWD 0.30755 → 3.0755 KWD = 3075.5 fils → 3076
 */
export function convertMinor(amount: number, from: string, to: string, rate: string): bigint {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`Amount must be a non-negative integer, got ${amount}`);
  const { numerator, scale } = parseRate(rate);
  const shift = currencyExponent(to) - currencyExponent(from);
  // value = amount × numerator × 10^shift / 10^scale, as one fraction of two integers.
  let top = BigInt(amount) * numerator;
  let bottom = 10n ** BigInt(scale);
  if (shift >= 0) top *= 10n ** BigInt(shift);
  else bottom *= 10n ** BigInt(-shift);
  const quotient = top / bottom;
  const remainder = top % bottom;
  return 2n * remainder >= bottom ? quotient + 1n : quotient;
}

/** Class-validator decorator: a rate string isValidRate accepts. */
export function IsRate(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isRate',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: '$property must be a decimal string above zero with at most 12 digits before and after the point (e.g. "5.4321")',
        ...options,
      },
      validator: { validate: (value: unknown) => isValidRate(value) },
    });
}
