import Stripe from 'stripe';
import { ProviderDeclineError, ProviderUnavailableError, ProviderUnknownOutcomeError } from '../payment-provider';
import { toProviderError } from './stripe-errors';

const { errors } = Stripe;

describe('Stripe errors → provider errors', () => {
  it('a card error is a decline with its decline code (or its code) and the PaymentIntent', () => {
    const declined = toProviderError(
      new errors.StripeCardError({
        message: 'Your card has insufficient funds.',
        code: 'card_declined',
        decline_code: 'insufficient_funds',
        payment_intent: { id: 'pi_1' } as never,
      }),
      'money',
    );
    expect(declined).toBeInstanceOf(ProviderDeclineError);
    expect(declined).toMatchObject({ declineCode: 'insufficient_funds', providerRef: 'pi_1' });
    expect(toProviderError(new errors.StripeCardError({ code: 'expired_card' }), 'money')).toMatchObject({ declineCode: 'expired_card' });
  });

  it('throttling, a 5xx and refused credentials are unavailability: nothing happened', () => {
    for (const err of [
      new errors.StripeRateLimitError({ message: 'Too many requests', statusCode: 429 }),
      new errors.StripeAPIError({ message: 'boom', statusCode: 500 }),
      new errors.StripeAuthenticationError({ message: 'Invalid API Key', statusCode: 401 }),
      new errors.StripePermissionError({ message: 'forbidden', statusCode: 403 }),
    ]) {
      expect(toProviderError(err, 'money')).toBeInstanceOf(ProviderUnavailableError);
    }
  });

  it('a connection refused before sending is unavailability; after an SDK retry of a reset it is not', () => {
    const refused = new errors.StripeConnectionError({ message: 'An error occurred', detail: { code: 'ECONNREFUSED' } });
    expect(toProviderError(refused, 'money')).toBeInstanceOf(ProviderUnavailableError);
    expect(toProviderError(refused, 'money', 2)).toBeInstanceOf(ProviderUnknownOutcomeError);
  });

  it('a timeout or a reset after sending is an unknown outcome for money, unavailability for reads', () => {
    const timeout = new errors.StripeConnectionError({
      message: 'Request aborted due to timeout being reached (1000ms)',
      detail: { code: 'ETIMEDOUT' },
    });
    const reset = new errors.StripeConnectionError({ message: 'An error occurred', detail: { code: 'ECONNRESET' } });
    expect(toProviderError(timeout, 'money')).toBeInstanceOf(ProviderUnknownOutcomeError);
    expect(toProviderError(reset, 'money')).toBeInstanceOf(ProviderUnknownOutcomeError);
    expect(toProviderError(reset, 'checkout')).toBeInstanceOf(ProviderUnknownOutcomeError);
    expect(toProviderError(reset, 'read')).toBeInstanceOf(ProviderUnavailableError);
  });

  it('an idempotency conflict (409, or the key reused with other parameters) is an unknown outcome', () => {
    expect(
      toProviderError(new errors.StripeIdempotencyError({ message: 'Keys for idempotent requests…', statusCode: 400 }), 'money'),
    ).toBeInstanceOf(ProviderUnknownOutcomeError);
    expect(toProviderError(new errors.StripeInvalidRequestError({ message: 'lock', statusCode: 409 }), 'money')).toBeInstanceOf(
      ProviderUnknownOutcomeError,
    );
  });

  it("Stripe's refusal of a money request is a decline (unknown PaymentMethod: invalid_payment_method); of a checkout, unavailability", () => {
    const missing = new errors.StripeInvalidRequestError({
      message: "No such PaymentMethod: 'pm_x'",
      code: 'resource_missing',
      param: 'payment_method',
      statusCode: 400,
    });
    expect(toProviderError(missing, 'money')).toMatchObject({ declineCode: 'invalid_payment_method' });
    const overRefund = new errors.StripeInvalidRequestError({
      message: 'Refund amount is greater',
      code: 'amount_too_large',
      statusCode: 400,
    });
    expect(toProviderError(overRefund, 'money')).toMatchObject({ declineCode: 'amount_too_large' });
    expect(toProviderError(overRefund, 'checkout')).toBeInstanceOf(ProviderUnavailableError);
  });

  it('leaves errors that are not Stripe errors alone', () => {
    const bug = new TypeError('bug');
    expect(toProviderError(bug, 'money')).toBe(bug);
  });
});
