import { computeDiscount, DiscountLineInput, DiscountRule } from './coupon-discount';

const percent = (percentOff: number, productIds: string[] = []): DiscountRule => ({
  type: 'PERCENTAGE',
  percentOff,
  amountOff: null,
  currency: null,
  productIds,
});
const flat = (amountOff: number, currency: string, productIds: string[] = []): DiscountRule => ({
  type: 'FLAT',
  amountOff,
  currency,
  percentOff: null,
  productIds,
});
const line = (productId: string | null, amount: number, productType: DiscountLineInput['productType'] = 'STANDARD'): DiscountLineInput => ({
  productId,
  amount,
  productType,
});

describe('computeDiscount', () => {
  describe('USD: a mixed cart (two products, a gift card, an ad hoc line)', () => {
    // 2 × 29.99, 10.01, a 50.00 gift card, 3.33 ad hoc
    const cart = [line('prod_a', 5998), line('prod_b', 1001), line('prod_gc', 5000, 'GIFT_CARD'), line(null, 333, null)];

    it('PERCENTAGE: per line, rounded half up, summed; the gift card line gets nothing', () => {
      // 899.70 → 900, 150.15 → 150, 49.95 → 50
      expect(computeDiscount(percent(15), cart, 'USD')).toEqual({ applicable: true, lineDiscounts: [900, 150, 0, 50], total: 1100 });
    });

    it('PERCENTAGE: rounds exact halves up', () => {
      expect(computeDiscount(percent(5), [line('p', 10), line('q', 30), line('r', 29)], 'USD')).toEqual({
        applicable: true,
        lineDiscounts: [1, 2, 1], // 0.5 → 1, 1.5 → 2, 1.45 → 1
        total: 4,
      });
    });

    it('PERCENTAGE scoped to one product discounts only its line (ad hoc lines are out of scope)', () => {
      expect(computeDiscount(percent(15, ['prod_b']), cart, 'USD')).toEqual({
        applicable: true,
        lineDiscounts: [0, 150, 0, 0],
        total: 150,
      });
    });

    it('PERCENTAGE 100 takes every eligible line to zero and never touches the gift card', () => {
      expect(computeDiscount(percent(100), cart, 'USD')).toEqual({ applicable: true, lineDiscounts: [5998, 1001, 0, 333], total: 7332 });
    });

    it('FLAT: spread in proportion to the lines, the missing cent to the largest remainder', () => {
      // 1000 × line / 7332 = 818.06, 136.52, 45.42 → 818 + 136 + 45 = 999; the cent goes to the .52 line.
      expect(computeDiscount(flat(1000, 'USD'), cart, 'USD')).toEqual({ applicable: true, lineDiscounts: [818, 137, 0, 45], total: 1000 });
    });

    it('FLAT larger than its scoped line gives at most that line', () => {
      expect(computeDiscount(flat(10_000, 'USD', ['prod_b']), cart, 'USD')).toEqual({
        applicable: true,
        lineDiscounts: [0, 1001, 0, 0],
        total: 1001,
      });
    });

    it('FLAT larger than the whole cart gives the eligible total, never the gift card', () => {
      expect(computeDiscount(flat(50_000, 'USD'), cart, 'USD')).toEqual({
        applicable: true,
        lineDiscounts: [5998, 1001, 0, 333],
        total: 7332,
      });
    });

    it('FLAT in another currency is not applicable', () => {
      expect(computeDiscount(flat(1000, 'EUR'), cart, 'USD')).toEqual({ applicable: false, reason: 'currency_mismatch' });
    });

    it('is not applicable when nothing in the cart is eligible', () => {
      expect(computeDiscount(percent(10, ['prod_x']), cart, 'USD')).toEqual({ applicable: false, reason: 'no_eligible_lines' });
      expect(computeDiscount(flat(500, 'USD'), [line('prod_gc', 5000, 'GIFT_CARD')], 'USD')).toEqual({
        applicable: false,
        reason: 'no_eligible_lines',
      });
      expect(computeDiscount(percent(10), [line('free', 0)], 'USD')).toEqual({ applicable: false, reason: 'no_eligible_lines' });
    });

    it('breaks equal remainders by line order', () => {
      expect(computeDiscount(flat(2, 'USD'), [line('a', 100), line('b', 100), line('c', 100)], 'USD')).toEqual({
        applicable: true,
        lineDiscounts: [1, 1, 0],
        total: 2,
      });
    });
  });

  describe('BRL', () => {
    // 3 × 149.90 and 49.99, plus a gift card
    const cart = [line('prod_a', 44970), line('prod_b', 4999), line('prod_gc', 10000, 'GIFT_CARD')];

    it('PERCENTAGE 12: 5396.40 → 5396, 599.88 → 600', () => {
      expect(computeDiscount(percent(12), cart, 'BRL')).toEqual({ applicable: true, lineDiscounts: [5396, 600, 0], total: 5996 });
    });

    it('FLAT 25.00: 2249.89 + 250.10 → 2249 + 250, the missing centavo to the first line', () => {
      expect(computeDiscount(flat(2500, 'BRL'), cart, 'BRL')).toEqual({ applicable: true, lineDiscounts: [2250, 250, 0], total: 2500 });
    });

    it('FLAT scoped and larger than its line', () => {
      expect(computeDiscount(flat(9000, 'BRL', ['prod_b', 'prod_gc']), cart, 'BRL')).toEqual({
        applicable: true,
        lineDiscounts: [0, 4999, 0],
        total: 4999,
      });
    });
  });

  describe('zero- and three-decimal currencies', () => {
    // JPY: 3 × ¥1000, ¥499, a ¥5000 gift card
    const yen = [line('prod_a', 3000), line('prod_b', 499), line('prod_gc', 5000, 'GIFT_CARD')];

    it('JPY PERCENTAGE 15: ¥450 and ¥74.85 → ¥75', () => {
      expect(computeDiscount(percent(15), yen, 'JPY')).toEqual({ applicable: true, lineDiscounts: [450, 75, 0], total: 525 });
    });

    it('JPY FLAT ¥1000: 857.39 + 142.61 → 857 + 143', () => {
      expect(computeDiscount(flat(1000, 'JPY'), yen, 'JPY')).toEqual({ applicable: true, lineDiscounts: [857, 143, 0], total: 1000 });
    });

    it('JPY FLAT larger than the scoped line', () => {
      expect(computeDiscount(flat(1000, 'JPY', ['prod_b']), yen, 'JPY')).toEqual({
        applicable: true,
        lineDiscounts: [0, 499, 0],
        total: 499,
      });
    });

    it('KWD (3 decimals): 10% of 12.345 → 1.235 (half up); FLAT 5.000', () => {
      const dinars = [line('prod_a', 12345), line('prod_b', 7)];
      expect(computeDiscount(percent(10), dinars, 'KWD')).toEqual({ applicable: true, lineDiscounts: [1235, 1], total: 1236 });
      expect(computeDiscount(flat(5000, 'KWD'), dinars, 'KWD')).toEqual({ applicable: true, lineDiscounts: [4997, 3], total: 5000 });
    });
  });

  it('stays exact at the largest amounts (no float products)', () => {
    const big = 99_999_999_999;
    const outcome = computeDiscount(flat(big - 1, 'USD'), [line('a', big), line('b', big), line('c', 1)], 'USD');
    expect(outcome).toEqual({ applicable: true, lineDiscounts: [49_999_999_999, 49_999_999_999, 0], total: big - 1 });
    expect(computeDiscount(percent(33), [line('a', big)], 'USD')).toEqual({
      applicable: true,
      lineDiscounts: [33_000_000_000],
      total: 33_000_000_000,
    });
  });

  it('refuses amounts that are not non-negative integers', () => {
    expect(() => computeDiscount(percent(10), [line('a', 10.5)], 'USD')).toThrow(/integers/);
    expect(() => computeDiscount(percent(10), [line('a', -1)], 'USD')).toThrow(/integers/);
    expect(() => computeDiscount(percent(101), [line('a', 100)], 'USD')).toThrow(/percentOff/);
  });

  it('holds its invariants over many random carts', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let run = 0; run < 2000; run++) {
      const lines = Array.from({ length: 1 + random(6) }, (_, i) =>
        line(`p${random(4)}`, random(3) === 0 ? random(5) : random(1_000_000), i === 0 && random(3) === 0 ? 'GIFT_CARD' : 'STANDARD'),
      );
      const scope = random(2) === 0 ? [] : ['p1', 'p2'];
      const rule = random(2) === 0 ? percent(1 + random(100), scope) : flat(1 + random(2_000_000), 'USD', scope);
      const outcome = computeDiscount(rule, lines, 'USD');
      const eligible = lines.filter(
        (l) => l.productType !== 'GIFT_CARD' && l.amount > 0 && (scope.length === 0 || scope.includes(l.productId ?? '')),
      );
      const eligibleTotal = eligible.reduce((sum, l) => sum + l.amount, 0);
      if (eligibleTotal === 0) {
        expect(outcome.applicable).toBe(false);
        continue;
      }
      if (!outcome.applicable) throw new Error('expected applicable');
      expect(outcome.total).toBe(outcome.lineDiscounts.reduce((sum, d) => sum + d, 0));
      outcome.lineDiscounts.forEach((d, i) => {
        expect(Number.isSafeInteger(d) && d >= 0 && d <= lines[i].amount).toBe(true);
        if (!eligible.includes(lines[i])) expect(d).toBe(0);
      });
      if (rule.type === 'FLAT') expect(outcome.total).toBe(Math.min(rule.amountOff as number, eligibleTotal));
    }
  });
});
