import recorded from './testdata/recorded-events.json';
import { toWebhookEvent } from './stripe.mapper';

type RecordedEvent = { id: string; type: string; data: { object: Record<string, unknown> } };
const events = recorded as unknown as Record<string, RecordedEvent>;
const object = (name: string) => events[name].data.object;

/** Stripe Billing's events for subscriptions Stripe renews (stripe-subscriptions.ts confirms them). */
describe('Stripe mapper: subscription renewals', () => {
  it('a renewal invoice claims its merchant, amount and currency, no charge (confirmEvent names it from Stripe)', () => {
    const invoice = { ...object('invoicePaid'), billing_reason: 'subscription_cycle' };
    const mapped = toWebhookEvent({ id: 'evt_r', type: 'invoice.paid', data: { object: invoice } });
    expect(mapped).toMatchObject({ kind: 'renewal.succeeded', merchantId: 'mer_default', currency: 'USD' });
    expect(mapped.providerRef).toBeUndefined();
    expect(toWebhookEvent({ id: 'evt_s', type: 'invoice.payment_succeeded', data: { object: invoice } }).kind).toBe('other');
  });

  it('an intent Stripe Billing made for an invoice (no metadata of ours) is other: the invoice events mirror it', () => {
    const pi = { id: 'pi_inv', amount: 1999, currency: 'usd', metadata: {}, description: 'Subscription update' };
    expect(toWebhookEvent({ id: 'evt_p', type: 'payment_intent.succeeded', data: { object: pi } }).kind).toBe('other');
    expect(toWebhookEvent({ id: 'evt_q', type: 'payment_intent.payment_failed', data: { object: pi } }).kind).toBe('other');
    const ours = { ...pi, metadata: { merchant_id: 'mer_x' } };
    expect(toWebhookEvent({ id: 'evt_o', type: 'payment_intent.succeeded', data: { object: ours } }).kind).toBe('payment.succeeded');
  });
});
