import { findNullByte, jsonNestsDeeperThan } from './input-safety';

describe('jsonNestsDeeperThan', () => {
  const nested = (levels: number) => Buffer.from('['.repeat(levels) + ']'.repeat(levels));

  it('counts objects and arrays alike, up to the limit inclusive', () => {
    expect(jsonNestsDeeperThan(nested(32), 32)).toBe(false);
    expect(jsonNestsDeeperThan(nested(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan(Buffer.from('{"a":[{"b":[1]}]}'), 3)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(Buffer.from(JSON.stringify({ s: '[[[[{{{{', t: 'a"[[[[' })), 1)).toBe(false);
  });

  it('refuses a very deep body without recursion', () => {
    expect(jsonNestsDeeperThan(nested(1_000_000), 32)).toBe(true);
  });
});

describe('findNullByte', () => {
  it('names the field, in arrays and nested objects, keys included', () => {
    expect(findNullByte({ items: [{ name: 'ok' }, { name: 'a\u0000b' }] })).toBe('items[1].name');
    expect(findNullByte({ metadata: { 'k\u0000': 'v' } })).toBe('metadata.k\u0000');
    expect(findNullByte({ id: 'fine', n: 3, x: null })).toBeNull();
  });
});
