import { randomBytes } from 'node:crypto';

/** A valid create-product body; override any field. */
export function productBody(overrides: Record<string, unknown> = {}) {
  return {
    name: `Product ${randomBytes(3).toString('hex')}`,
    prices: [
      { currency: 'USD', amount: 2999 },
      { currency: 'BRL', amount: 14990 },
    ],
    ...overrides,
  };
}
