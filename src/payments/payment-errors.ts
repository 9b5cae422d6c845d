import { DomainError } from '../common/errors/domain-errors';
import { CountryBlockedError, FraudBlockedError } from '../fraud/fraud-errors';

export class CardDeclinedError extends DomainError {
  constructor(declineCode: string) {
    super('card_declined', 'card_declined', `The card was declined (${declineCode}).`, { declineCode });
  }
}

export class ProvidersUnavailableError extends DomainError {
  constructor(message = 'No payment provider could take this request; nothing was charged. Retry later with a new Idempotency-Key.') {
    super('provider_unavailable', 'provider_unavailable', message, { retryAfterSeconds: 30 });
  }
}

export class OutcomeUnknownError extends DomainError {
  constructor() {
    super(
      'provider_unavailable',
      'payment_outcome_unknown',
      'The provider did not confirm the outcome yet. Retry with the same Idempotency-Key: you will get the final answer, never a second charge.',
      { retryAfterSeconds: 5 },
    );
  }
}

/** The error a failed payment answers with, rebuilt from its stored failure (replays, recovery). */
export function errorForFailedPayment(failureCode: string | null, declineCode: string | null): DomainError {
  if (failureCode === 'card_declined') return new CardDeclinedError(declineCode ?? 'generic_decline');
  if (failureCode === 'fraud_blocked') return new FraudBlockedError();
  if (failureCode === 'country_blocked') return new CountryBlockedError();
  return new ProvidersUnavailableError();
}
