import { contradictions, movesMoney } from './provider-event-matcher';
import type { ProviderWebhookEvent } from './providers/payment-provider';

const event = (fields: Partial<ProviderWebhookEvent>): ProviderWebhookEvent => ({
  eventId: 'evt_1',
  type: 'checkout.session.completed',
  kind: 'checkout.completed',
  payload: {},
  ...fields,
});

describe('contradictions between what an event claims and what its provider shows', () => {
  const confirmed = event({ merchantId: 'mer_a', reference: 'cs_1', providerRef: 'ch_1', amount: 8000, currency: 'USD' });

  it('none when every claim is confirmed (currency case aside) or not made at all', () => {
    expect(contradictions(event({ merchantId: 'mer_a', amount: 8000, currency: 'usd' }), confirmed)).toEqual([]);
    // A Mercado Pago notification claims only a payment id, and no kind yet.
    expect(contradictions(event({ kind: 'other', providerRef: 'ch_1' }), confirmed)).toEqual([]);
  });

  it('names each claim the provider does not show', () => {
    expect(contradictions(event({ merchantId: 'mer_b', amount: 100, currency: 'EUR', providerRef: 'ch_1' }), confirmed)).toEqual([
      'merchantId mer_b (the provider shows mer_a)',
      'amount 100 (the provider shows 8000)',
      'currency EUR (the provider shows USD)',
    ]);
    expect(contradictions(event({}), { ...confirmed, kind: 'other' })).toEqual(['kind checkout.completed (the provider shows other)']);
  });

  it('counts completed checkouts, succeeded payments, refunds and disputes as money moving, nothing else', () => {
    expect(['checkout.completed', 'payment.succeeded', 'payment.refunded', 'dispute'].every((kind) => movesMoney({ kind } as never))).toBe(
      true,
    );
    expect(['checkout.attempt_failed', 'checkout.expired', 'payment.failed', 'other'].some((kind) => movesMoney({ kind } as never))).toBe(
      false,
    );
  });
});
