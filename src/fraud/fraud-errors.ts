import { DomainError } from '../common/errors/domain-errors';

/** What fraud screening answers a payment with; payments only pass them on (and rebuild them on replays). */
export class FraudBlockedError extends DomainError {
  constructor() {
    super('card_declined', 'fraud_blocked', 'The payment was blocked by a fraud rule.', { declineCode: 'fraud_blocked' });
  }
}

export class CountryBlockedError extends DomainError {
  constructor() {
    super('forbidden', 'country_blocked', 'Payments from this country are not accepted.', { param: 'customer.country' });
  }
}
