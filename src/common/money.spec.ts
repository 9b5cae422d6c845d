import { currencyExponent, fromMajorString, isSupportedCurrency, toMajorString } from './money';

describe('money', () => {
  it('formats minor units per currency exponent without floats', () => {
    expect(toMajorString(2999, 'USD')).toBe('29.99');
    expect(toMajorString(5, 'BRL')).toBe('0.05');
    expect(toMajorString(500, 'JPY')).toBe('500');
    expect(toMajorString(1234, 'KWD')).toBe('1.234');
    expect(toMajorString(-150, 'USD')).toBe('-1.50');
  });

  it('rejects non-integer amounts and unknown currencies', () => {
    expect(() => toMajorString(10.5, 'USD')).toThrow();
    expect(() => currencyExponent('XXX')).toThrow();
    expect(isSupportedCurrency('usd')).toBe(false);
    expect(isSupportedCurrency('USD')).toBe(true);
  });

  it('reads provider decimals back into minor units without float error', () => {
    expect(fromMajorString('29.99', 'USD')).toBe(2999);
    expect(fromMajorString(0.29, 'USD')).toBe(29);
    expect(fromMajorString(1.005, 'KWD')).toBe(1005);
    expect(fromMajorString('500', 'JPY')).toBe(500);
    expect(fromMajorString('10.5', 'BRL')).toBe(1050);
    expect(() => fromMajorString('1.234', 'USD')).toThrow();
    expect(() => fromMajorString(10.5, 'CLP')).toThrow(); // refused, never rounded to 11
    expect(() => fromMajorString(29.999, 'USD')).toThrow();
  });
});
