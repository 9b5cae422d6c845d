import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Random bytes are drawn from a pooled buffer refilled from the cryptographic source 4 KB at a time
// (as crypto.randomUUID does): one system call per ~150 ids instead of one per id. Each byte is used once.
const pool = Buffer.alloc(4096);
let next = pool.length;

function randomByte(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++];
}

/** Random base62 string from a cryptographic source (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

export type IdPrefix =
  | 'prod'
  | 'cs'
  | 'pay'
  | 're'
  | 'sub'
  | 'cus'
  | 'gc'
  | 'evt'
  | 'key'
  | 'att'
  | 'cb'
  | 'le'
  | 'whe'
  | 'we'
  | 'rec'
  | 'dis'
  | 'dp'
  | 'rr'
  | 'dsc'
  | 'mer'
  | 'pm'
  | 'in';

/** Prefixed, non-sequential ids: `prod_3hK9…`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(20)}`;
}
