import { TtlCache } from './ttl-cache';

describe('TtlCache', () => {
  it('calls the load of a miss before getOrLoad first yields, with a TTL and without', () => {
    for (const cache of [new TtlCache<number>(60_000), new TtlCache<number>(0)]) {
      const loaded: string[] = [];
      void cache.getOrLoad('a', async () => loaded.push('a'));
      void cache.getOrLoad('b', async () => loaded.push('b'));
      expect(loaded).toEqual(['a', 'b']);
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
