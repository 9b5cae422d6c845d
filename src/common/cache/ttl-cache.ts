/**
 * A small in-memory read-through cache. Concurrent misses for one key share one load; a clear() during a
 * load discards that load's result, so an invalidation is never overwritten by data read before it.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; expiresAt: number }>();
  private generation = 0;

  constructor(private readonly ttlMs: number) {}

  async getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > now) return hit.value;

    const generation = this.generation;
    const value = load();
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    try {
      return await value;
    } catch (err) {
      this.entries.delete(key);
      throw err;
    } finally {
      if (generation !== this.generation) this.entries.delete(key);
    }
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
