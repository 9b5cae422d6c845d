import { TtlCache } from './ttl-cache';

describe('TtlCache', () => {
  it('loads the misses of several keys in one call; without a TTL every item is a miss', async () => {
    for (const [ttl, batch] of [
      [60_000, ['b', 'c']],
      [0, ['a', 'b', 'c', 'b']],
    ] as const) {
      const cache = new TtlCache<string>(ttl);
      const batches: string[][] = [];
      const loadMissing = async (missing: string[]) => {
        batches.push([...missing]);
        return missing.map((k) => k.toUpperCase());
      };
      await cache.getOrLoad('a', async () => 'A');
      expect(await cache.getOrLoadMany(['a', 'b', 'c', 'b'], (k) => k, loadMissing)).toEqual(['A', 'B', 'C', 'B']);
      expect(batches).toEqual([batch]);
    }
  });

  it('shares one load between concurrent misses and serves hits until cleared', async () => {
    const cache = new TtlCache<number>(60_000);
    let loads = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.getOrLoad('k', load), cache.getOrLoad('k', load)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
    expect(await cache.getOrLoad('k', load)).toBe(1);
    cache.clear();
    expect(await cache.getOrLoad('k', load)).toBe(2);
  });

  it('does not keep a value loaded across a clear()', async () => {
    const cache = new TtlCache<string>(60_000);
    let release!: (v: string) => void;
    const pending = cache.getOrLoad('k', () => new Promise<string>((r) => (release = r)));
    cache.clear();
    release('stale');
    expect(await pending).toBe('stale');
    expect(await cache.getOrLoad('k', async () => 'fresh')).toBe('fresh');
  });

  it('does not cache failures', async () => {
    const cache = new TtlCache<string>(60_000);
    await expect(cache.getOrLoad('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await cache.getOrLoad('k', async () => 'ok')).toBe('ok');
  });

  it('holds a bounded number of entries: the oldest go first (lookups of missing ids cannot grow it)', async () => {
    const cache = new TtlCache<string>(60_000, 3);
    let loads = 0;
    const load = (v: string) => async () => (loads++, v);
    for (const k of ['a', 'b', 'c', 'd', 'e']) await cache.getOrLoad(k, load(k));
    expect(loads).toBe(5);
    await cache.getOrLoad('e', load('e')); // still held
    expect(loads).toBe(5);
    await cache.getOrLoad('a', load('a')); // dropped to make room
    expect(loads).toBe(6);
  });
});
