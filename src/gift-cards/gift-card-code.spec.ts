import { CODE_ALPHABET, newGiftCardCode, normalizeCode } from './gift-card-code';

describe('gift card codes', () => {
  it('are XXXX-XXXX-XXXX over an alphabet without look-alikes, and distinct', () => {
    const codes = new Set(Array.from({ length: 2000 }, newGiftCardCode));
    expect(codes.size).toBe(2000);
    for (const code of codes) {
      expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
      for (const c of code.replace(/-/g, '')) expect(CODE_ALPHABET).toContain(c);
    }
    expect(CODE_ALPHABET).not.toMatch(/[01OIL]/);
  });

  it('normalizes what people type', () => {
    expect(normalizeCode('abcd efgh-jkmn')).toBe('ABCD-EFGH-JKMN');
    expect(normalizeCode('ABCDEFGHJKMN')).toBe('ABCD-EFGH-JKMN');
    expect(normalizeCode('short')).toBeNull();
  });
});
