import { UnknownProviderStatusError } from '../payment-provider';
import { STRIPE_DISPUTE_STATUSES, toProviderDispute } from './stripe-dispute.mapper';

describe('dispute statuses', () => {
  const dispute = (status: string) => ({ id: 'du_1', payment_intent: 'pi_1', amount: 5000, currency: 'usd', status });

  it('maps every Stripe dispute status; an unknown one throws instead of being guessed', () => {
    expect(STRIPE_DISPUTE_STATUSES).toEqual({
      warning_needs_response: 'needs_response',
      warning_under_review: 'under_review',
      warning_closed: 'won',
      needs_response: 'needs_response',
      under_review: 'under_review',
      won: 'won',
      lost: 'lost',
      prevented: 'won',
    });
    expect(toProviderDispute(dispute('lost'))?.status).toBe('lost');
    expect(() => toProviderDispute(dispute('charge_refunded'))).toThrow(UnknownProviderStatusError);
  });
});
