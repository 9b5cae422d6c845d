/**
 * An amount in minor units as the locale writes it. The integer is turned into a decimal string (never
 * divided as a float) and Intl.NumberFormat formats that string with the currency's own digits.
 */
export function formatMoney(minor: number, currency: string, exponent: number, locale: string): string {
  const digits = Math.abs(minor)
    .toString()
    .padStart(exponent + 1, '0');
  const major = exponent ? `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}` : digits;
  const value = `${minor < 0 ? '-' : ''}${major}`;
  const format = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  // Intl.NumberFormat reads decimal strings exactly (ES2023); its TypeScript signature says number.
  return format.format(value as unknown as number);
}
