/** Entries a cache holds at most: lookups of ids that do not exist must not grow memory without bound. */
const MAX_ENTRIES = 10_000;

/**
 * A small in-memory read-through cache. Concurrent misses for one key share one load; a clear() during a
 * load discards that load's result, so an invalidation is never overwritten by data read before it.
 * When full it drops expired entries, then the oldest.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; expiresAt: number }>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = MAX_ENTRIES,
  ) {}

  async getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > now) return hit.value;

    const generation = this.generation;
    const value = load();
    if (!hit) this.makeRoom(now);
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

  /**
   * Several items at once: the ones missing from the cache are loaded together, by one call of
   * `loadMissing` (a value per missing item, in order), a microtask later. Each miss's load is called
   * synchronously by getOrLoad, so by then every miss of this call has joined the batch.
   */
  getOrLoadMany<T>(items: T[], keyOf: (item: T) => string, loadMissing: (missing: T[]) => Promise<V[]>): Promise<V[]> {
    const missing: T[] = [];
    let batch: Promise<V[]> | undefined;
    return Promise.all(
      items.map((item) =>
        this.getOrLoad(keyOf(item), () => {
          const index = missing.push(item) - 1;
          batch ??= Promise.resolve().then(() => loadMissing(missing));
          return batch.then((values) => values[index]);
        }),
      ),
    );
  }

  private makeRoom(now: number): void {
    if (this.entries.size < this.maxEntries) return;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    for (const key of this.entries.keys()) {
      if (this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
