import { basisPointsOf, simulatorFee } from './simulator-fees';

describe('simulator fees (integer arithmetic, half up)', () => {
  it('reads the percentage as basis points', () => {
    expect(basisPointsOf('2.9')).toBe(290);
    expect(basisPointsOf('3')).toBe(300);
    expect(basisPointsOf('0.25')).toBe(25);
    expect(basisPointsOf('0')).toBe(0);
  });

  it('rounds the percentage part half up, adds the fixed part, never more than the amount', () => {
    const terms = { basisPoints: 290, fixed: 30 };
    expect(simulatorFee(1999, terms)).toBe(30 + 58); // 57.971 → 58
    expect(simulatorFee(1000, terms)).toBe(30 + 29);
    expect(simulatorFee(50, { basisPoints: 100, fixed: 0 })).toBe(1); // 0.5 → 1
    expect(simulatorFee(49, { basisPoints: 100, fixed: 0 })).toBe(0); // 0.49 → 0
    expect(simulatorFee(20, terms)).toBe(20);
    expect(simulatorFee(5000, { basisPoints: 0, fixed: 0 })).toBe(0);
  });
});
