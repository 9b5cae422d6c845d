import type { Line } from '../payments.types';
import { priceRefOf, providerSubscriptionOf } from './charge-plan';

const line = (overrides: Partial<Line>): Line => ({
  productId: 'prod_1',
  name: 'Line',
  unitAmount: 1000,
  quantity: 1,
  amount: 1000,
  productType: 'STANDARD',
  ...overrides,
});

describe('priceRefOf (the provider price a charge sells through)', () => {
  it('Segpay: the subscription line’s own price point, even beside one-time lines', () => {
    const lines = [line({ segpayPricePoint: '1:10' }), line({ interval: 'month', segpayPricePoint: '1:20' })];
    expect(priceRefOf(lines, 'segpay')).toBe('1:20');
  });

  it('Segpay: the only line’s price point; none when several one-time lines or no price point (the configured one then)', () => {
    expect(priceRefOf([line({ segpayPricePoint: '1:10' })], 'segpay')).toBe('1:10');
    expect(priceRefOf([line({ segpayPricePoint: '1:10' }), line({ segpayPricePoint: '1:11' })], 'segpay')).toBeUndefined();
    expect(priceRefOf([line({})], 'segpay')).toBeUndefined();
  });

  it('other providers: none', () => {
    expect(priceRefOf([line({ interval: 'month', segpayPricePoint: '1:20' })], 'stripe')).toBeUndefined();
  });
});

describe('providerSubscriptionOf (the subscription a charge starts at a provider whose Billing renews it)', () => {
  it('Stripe: the subscription line, at its full amount and interval', () => {
    const sub = line({ name: 'Pro', interval: 'year', unitAmount: 500, quantity: 2, amount: 1000, discount: 100 });
    expect(providerSubscriptionOf([sub], 'stripe')).toEqual({ name: 'Pro', amount: 1000, interval: 'year' });
  });

  it('none for a cart without one, or at another provider', () => {
    expect(providerSubscriptionOf([line({})], 'stripe')).toBeUndefined();
    expect(providerSubscriptionOf([line({ interval: 'month' })], 'segpay')).toBeUndefined();
    expect(providerSubscriptionOf([line({ interval: 'month' })], 'simulator')).toBeUndefined();
  });
});
