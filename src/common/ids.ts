import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random base62 string from a cryptographic source (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
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
  | 'rec'
  | 'dis'
  | 'mer';

/** Prefixed, non-sequential ids: `prod_3hK9…`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(20)}`;
}
