import { newId, randomBase62 } from './ids';

describe('ids', () => {
  it('makes prefixed base62 ids of 20 random characters', () => {
    expect(newId('pay')).toMatch(/^pay_[0-9A-Za-z]{20}$/);
    expect(randomBase62(32)).toMatch(/^[0-9A-Za-z]{32}$/);
  });

  it('never repeats across many refills of its random pool', () => {
    const ids = new Set(Array.from({ length: 20_000 }, () => newId('att'))); // ~430 KB of random bytes
    expect(ids.size).toBe(20_000);
  });

  it('uses the whole alphabet about evenly (no modulo bias)', () => {
    const counts = new Map<string, number>();
    for (const c of randomBase62(62_000)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(200); // ~6 standard deviations
  });
});
