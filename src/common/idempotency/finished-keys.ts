import type { StoredResponse } from './idempotency.repository';

/** How long an instance keeps a finished key's answer at most, and how far before its expiry it stops. */
const MAX_AGE_MS = 10 * 60_000;
const EXPIRY_MARGIN_MS = 60_000;

interface FinishedKey {
  hash: string;
  response: StoredResponse;
  until: number;
  size: number;
}

/**
 * The answers of finished idempotency keys this instance has read, kept in memory (bounded by bytes,
 * oldest first out). A finished key never changes until it expires (the claim only takes over an expired
 * or an unfinished key), so a replay or a mismatch (422) can be answered without a statement; the first
 * replay on each instance reads PostgreSQL as before. Entries end well before the key's expiry (a margin
 * for clock skew between this instance and the database) and after ten minutes at most.
 */
export class FinishedKeys {
  private readonly entries = new Map<string, FinishedKey>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(merchantId: string, key: string): FinishedKey | undefined {
    const id = `${merchantId} ${key}`;
    const entry = this.entries.get(id);
    if (!entry || entry.until > Date.now()) return entry;
    this.forget(id, entry);
    return undefined;
  }

  remember(merchantId: string, key: string, hash: string, response: StoredResponse, expiresAt: Date): void {
    const until = Math.min(expiresAt.getTime() - EXPIRY_MARGIN_MS, Date.now() + MAX_AGE_MS);
    const size = response.body.length + key.length;
    if (until <= Date.now() || size > this.maxBytes) return;
    const id = `${merchantId} ${key}`;
    const previous = this.entries.get(id);
    if (previous) this.forget(id, previous);
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + size <= this.maxBytes) break;
      this.forget(oldest, entry);
    }
    this.entries.set(id, { hash, response, until, size });
    this.bytes += size;
  }

  private forget(id: string, entry: FinishedKey): void {
    this.entries.delete(id);
    this.bytes -= entry.size;
  }
}
