import { registerDecorator, ValidationOptions } from 'class-validator';

/**
 * ISO 4217 currencies we accept, with their minor-unit exponent. Amounts are always integers in minor
 * units; conversion to a provider's decimal format happens only at the provider edge (toMajorString).
 */
export const CURRENCY_EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  USD: 2,
  EUR: 2,
  GBP: 2,
  BRL: 2,
  CAD: 2,
  AUD: 2,
  MXN: 2,
  ARS: 2,
  CLP: 0,
  COP: 2,
  PEN: 2,
  UYU: 2,
  CHF: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  CZK: 2,
  INR: 2,
  SGD: 2,
  HKD: 2,
  NZD: 2,
  ZAR: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
  ISK: 0,
  KWD: 3,
  BHD: 3,
  JOD: 3,
  OMR: 3,
  TND: 3,
});

/** Largest amount accepted anywhere (minor units): well inside Number.MAX_SAFE_INTEGER and bigint. */
export const MAX_AMOUNT = 99_999_999_999;

export function isSupportedCurrency(code: unknown): code is string {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(CURRENCY_EXPONENTS, code);
}

export function currencyExponent(currency: string): number {
  const exponent = CURRENCY_EXPONENTS[currency];
  if (exponent === undefined) throw new Error(`Unsupported currency ${currency}`);
  return exponent;
}

/** 2999 USD -> "29.99"; 500 JPY -> "500"; 1234 KWD -> "1.234". String arithmetic, no floats. */
export function toMajorString(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount)) throw new Error(`Amount must be an integer in minor units, got ${amount}`);
  const exponent = currencyExponent(currency);
  const sign = amount < 0 ? '-' : '';
  const digits = String(Math.abs(amount)).padStart(exponent + 1, '0');
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/**
 * "29.99" or 29.99 (a provider's decimal amount) → 2999, by string arithmetic: no float rounding.
 * Throws when the value has more decimals than the currency allows.
 */
export function fromMajorString(value: string | number, currency: string): number {
  const exponent = currencyExponent(currency);
  // String(), not toFixed(): a JSON number prints as its shortest exact decimal, and too many decimals
  // must be refused, not rounded.
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`Not a decimal amount: ${value}`);
  const [, sign, whole, fraction = ''] = match;
  if (fraction.replace(/0+$/, '').length > exponent) throw new Error(`${value} has more than ${exponent} decimals for ${currency}`);
  const minor = Number(whole + fraction.padEnd(exponent, '0').slice(0, exponent));
  return sign ? -minor : minor;
}

/** Class-validator decorator: an upper-case ISO 4217 code from the table above. */
export function IsCurrencyCode(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isCurrencyCode',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `$property must be a supported upper-case ISO 4217 currency code`, ...options },
      validator: { validate: (value: unknown) => isSupportedCurrency(value) },
    });
}
