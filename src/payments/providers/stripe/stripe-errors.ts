import Stripe from 'stripe';
import { ProviderDeclineError, ProviderError, ProviderUnavailableError, ProviderUnknownOutcomeError } from '../payment-provider';

/** What the failed call was: it decides what an ambiguous failure means. */
export type StripeOperation =
  /** moves money (PaymentIntent confirm, Refund): a lost answer is an unknown outcome */
  | 'money'
  /** opens a hosted page: nothing is charged, an unknown outcome is as safe as an outage */
  | 'checkout'
  /** reads (retrieve, list) and housekeeping (expire): no effect to be unsure about */
  | 'read';

/**
 * Network errors raised before the request could reach Stripe: nothing was sent. Anything else on a
 * connection (a reset, a timeout) may have happened after Stripe received the request.
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** A 5xx answer (or an unreadable one): Stripe documents its result as indeterminate. */
export function isServerError(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeAPIError || (err instanceof Stripe.errors.StripeError && (err.statusCode ?? 0) >= 500);
}

export function isMissingResource(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeInvalidRequestError && (err.statusCode === 404 || err.code === 'resource_missing');
}

/**
 * Stripe's errors as our typed provider errors.
 *
 * `attempts` is how many HTTP requests the SDK sent for this call: stripe-node retries a reset
 * connection once even with maxNetworkRetries 0, so a "connection refused" on its retry does not prove
 * that the first request never arrived.
 */
export function toProviderError(err: unknown, operation: StripeOperation, attempts = 1): Error {
  if (err instanceof ProviderError || !(err instanceof Stripe.errors.StripeError)) return err as Error;
  const message = `Stripe: ${err.message || err.type}`;
  const unknown = () =>
    operation === 'read' ? new ProviderUnavailableError('stripe', message) : new ProviderUnknownOutcomeError('stripe', message);

  if (err instanceof Stripe.errors.StripeCardError) {
    const intent = err.payment_intent as { id?: string } | undefined;
    return new ProviderDeclineError('stripe', err.decline_code || err.code || 'card_declined', intent?.id, err.message || undefined);
  }
  if (err instanceof Stripe.errors.StripeConnectionError) {
    const code = (err.detail as { code?: string } | undefined)?.code;
    if (code && NOT_SENT_CODES.has(code) && attempts <= 1) return new ProviderUnavailableError('stripe', message);
    return unknown();
  }
  if (
    err instanceof Stripe.errors.StripeRateLimitError ||
    err instanceof Stripe.errors.StripeAuthenticationError ||
    err instanceof Stripe.errors.StripePermissionError
  ) {
    // Throttled, or our credentials are refused: nothing happened; another provider may take it.
    return new ProviderUnavailableError('stripe', message);
  }
  // The key was used with other parameters, or a request with it is still running: something reached Stripe.
  if (err instanceof Stripe.errors.StripeIdempotencyError || err.statusCode === 409) return unknown();
  if (isServerError(err)) return new ProviderUnavailableError('stripe', message);
  if (err instanceof Stripe.errors.StripeInvalidRequestError) {
    // Stripe's final refusal of this request (an unknown PaymentMethod, an amount under the minimum, an
    // over-refund). For money it is a decline; a hosted page Stripe refuses may open at another provider.
    if (operation === 'money') {
      const intent = err.payment_intent as { id?: string } | undefined;
      const code = err.param === 'payment_method' ? 'invalid_payment_method' : err.code || 'invalid_request';
      return new ProviderDeclineError('stripe', code, intent?.id, message);
    }
    return new ProviderUnavailableError('stripe', message);
  }
  return unknown();
}

/** The call's answer, or null when Stripe has no such object (404). */
export function missingAsNull<T>(call: Promise<T>): Promise<T | null> {
  return call.catch((err: unknown) => {
    if (isMissingResource(err)) return null;
    throw err;
  });
}
