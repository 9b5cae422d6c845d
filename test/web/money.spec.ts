import { formatMoney } from '../../web/src/shared/money';

describe('formatMoney (the hosted pages format minor units per locale)', () => {
  it('formats with the currency exponent, never through a float', () => {
    expect(formatMoney(2999, 'USD', 2, 'en')).toBe('$29.99');
    expect(formatMoney(123450, 'BRL', 2, 'pt-BR')).toBe('R$\u00a01.234,50');
    expect(formatMoney(2999, 'USD', 2, 'es')).toBe('29,99\u00a0US$');
    expect(formatMoney(5, 'USD', 2, 'en')).toBe('$0.05');
    expect(formatMoney(1500, 'JPY', 0, 'en')).toBe('¥1,500');
    expect(formatMoney(1234, 'KWD', 3, 'en')).toBe('KWD\u00a01.234');
    // The largest amount the API takes (MAX_AMOUNT), to the last minor unit.
    expect(formatMoney(99_999_999_999, 'USD', 2, 'en')).toBe('$999,999,999.99');
    expect(formatMoney(-300, 'USD', 2, 'en')).toBe('-$3.00');
  });
});
