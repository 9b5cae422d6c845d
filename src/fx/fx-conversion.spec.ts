import { convertMinor, isValidRate, normalizeRate, parsePair } from './fx-conversion';

describe('fx conversion (BigInt, minor units to minor units, half-up)', () => {
  it('converts between two-decimal currencies', () => {
    expect(convertMinor(1999, 'USD', 'BRL', '5.4321')).toBe(10859n); // 10858.7679
    expect(convertMinor(2999, 'USD', 'BRL', '5')).toBe(14995n);
    expect(convertMinor(0, 'USD', 'BRL', '5.4321')).toBe(0n);
  });

  it('rounds half-up on the last minor unit, once', () => {
    expect(convertMinor(5, 'USD', 'EUR', '0.5')).toBe(3n); // 2.5 → 3 (half-even would give 2)
    expect(convertMinor(3, 'USD', 'EUR', '0.5')).toBe(2n); // 1.5 → 2
    expect(convertMinor(1, 'USD', 'EUR', '0.5')).toBe(1n); // 0.5 → 1
    expect(convertMinor(1, 'USD', 'EUR', '0.499999999999')).toBe(0n); // just under a half → down
    expect(convertMinor(1, 'USD', 'EUR', '0.500000000001')).toBe(1n);
    // 7 × 0.1449 = 1.0143 → 1
    expect(convertMinor(7, 'USD', 'EUR', '0.1449')).toBe(1n);
  });

  it('into a currency of exponent 0 (JPY)', () => {
    expect(convertMinor(1999, 'USD', 'JPY', '151.37')).toBe(3026n); // 19.99 × 151.37 = 3025.8863 yen
    expect(convertMinor(1, 'USD', 'JPY', '150')).toBe(2n); // 0.01 × 150 = 1.5 yen → 2
    expect(convertMinor(1, 'USD', 'JPY', '149.99')).toBe(1n); // 1.4999 → 1
  });

  it('out of a currency of exponent 0 (JPY)', () => {
    expect(convertMinor(150, 'JPY', 'USD', '0.0066')).toBe(99n); // exactly 0.99 USD
    expect(convertMinor(1, 'JPY', 'USD', '0.0066')).toBe(1n); // 0.66 cent → 1
    expect(convertMinor(1, 'JPY', 'USD', '0.0049')).toBe(0n); // 0.49 cent → 0
  });

  it('into and out of a currency of exponent 3 (KWD)', () => {
    expect(convertMinor(1000, 'USD', 'KWD', '0.30755')).toBe(3076n); // 3075.5 fils → 3076
    expect(convertMinor(1, 'USD', 'KWD', '0.30755')).toBe(3n); // 3.0755 fils
    expect(convertMinor(1234, 'KWD', 'USD', '3.2515')).toBe(401n); // 401.2351 cents
    expect(convertMinor(1000, 'KWD', 'JPY', '491.5')).toBe(492n); // 491.5 yen → 492
    expect(convertMinor(1, 'KWD', 'JPY', '491.5')).toBe(0n); // 0.4915 yen
  });

  it('has no float error and no overflow at the largest amounts and rates', () => {
    // 0.1 + 0.2 style: 0.29 × 3 as floats is 0.8699999…; here exact.
    expect(convertMinor(29, 'USD', 'EUR', '3')).toBe(87n);
    expect(convertMinor(99_999_999_999, 'USD', 'JPY', '999999999999.999999999999')).toBe(999_999_999_990_000_000_000n); // 999999999989999999999.999…;
  });

  it('refuses negative or fractional amounts and malformed rates', () => {
    expect(() => convertMinor(-1, 'USD', 'BRL', '5')).toThrow(RangeError);
    expect(() => convertMinor(1.5, 'USD', 'BRL', '5')).toThrow(RangeError);
    for (const bad of ['0', '0.000', '-1', '1e3', '1.', '.5', ' 5', '5,43', '1234567890123', '1.0000000000001', ''])
      expect(isValidRate(bad)).toBe(false);
    expect(isValidRate(5 as unknown)).toBe(false);
  });

  it('normalizes a rate to its canonical spelling', () => {
    expect(normalizeRate('05.4300')).toBe('5.43');
    expect(normalizeRate('1.000')).toBe('1');
    expect(normalizeRate('0.000001')).toBe('0.000001');
    expect(normalizeRate('151.37')).toBe('151.37');
  });

  it('reads a pair of two distinct currencies of the money table', () => {
    expect(parsePair('USD-BRL')).toEqual(['USD', 'BRL']);
    expect(parsePair('KWD-JPY')).toEqual(['KWD', 'JPY']);
    for (const bad of ['usd-brl', 'USD-USD', 'USD-XXX', 'USDBRL', 'USD_BRL', 'USD-BRL-EUR']) expect(parsePair(bad)).toBeNull();
  });
});
