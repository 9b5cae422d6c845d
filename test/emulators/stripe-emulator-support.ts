import type { EmulatorRequest, FormObject, FormValue } from './emulator-server';
import { asRecord } from './emulator-server';
import { STRIPE_PARAMS, unknownParam } from './stripe-params';

import type { Json, Metadata } from './stripe-emulator-types';

export * from './stripe-emulator-types';

/** What the Stripe emulator's resources share: Stripe's test cards, errors and parameter reading (wire types: stripe-emulator-types.ts). */

export interface TestCard {
  brand: string;
  last4: string;
  funding: string;
  outcome: 'succeed' | 'decline' | 'authenticate';
  code?: string;
  declineCode?: string;
  message?: string;
  /** A declining card that can still be attached to a Customer (Stripe's pm_card_chargeCustomerFail). */
  attachable?: boolean;
}

/** Stripe's documented test PaymentMethods (https://docs.stripe.com/testing). */
export const TEST_PAYMENT_METHODS: Record<string, TestCard> = {
  pm_card_visa: { brand: 'visa', last4: '4242', funding: 'credit', outcome: 'succeed' },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', funding: 'debit', outcome: 'succeed' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', funding: 'credit', outcome: 'succeed' },
  pm_card_amex: { brand: 'amex', last4: '8431', funding: 'credit', outcome: 'succeed' },
  pm_card_chargeDeclined: {
    brand: 'visa',
    last4: '0002',
    funding: 'credit',
    outcome: 'decline',
    code: 'card_declined',
    declineCode: 'generic_decline',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    funding: 'credit',
    outcome: 'decline',
    code: 'card_declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  pm_card_chargeDeclinedLostCard: {
    brand: 'visa',
    last4: '9987',
    funding: 'credit',
    outcome: 'decline',
    code: 'card_declined',
    declineCode: 'lost_card',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedFraudulent: {
    brand: 'visa',
    last4: '0019',
    funding: 'credit',
    outcome: 'decline',
    code: 'card_declined',
    declineCode: 'fraudulent',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedExpiredCard: {
    brand: 'visa',
    last4: '0069',
    funding: 'credit',
    outcome: 'decline',
    code: 'expired_card',
    declineCode: 'expired_card',
    message: 'Your card has expired.',
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    brand: 'visa',
    last4: '0127',
    funding: 'credit',
    outcome: 'decline',
    code: 'incorrect_cvc',
    declineCode: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
  },
  // Attaching it to a Customer succeeds; every charge on it then declines (4000000000000341).
  pm_card_chargeCustomerFail: {
    brand: 'visa',
    last4: '0341',
    funding: 'credit',
    outcome: 'decline',
    code: 'card_declined',
    declineCode: 'generic_decline',
    message: 'Your card was declined.',
    attachable: true,
  },
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184', funding: 'credit', outcome: 'authenticate' },
  pm_card_threeDSecure2Required: { brand: 'visa', last4: '3220', funding: 'credit', outcome: 'authenticate' },
};

/** Stripe's minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts), a subset. */
export const MINIMUM_AMOUNTS: Record<string, number> = { usd: 50, eur: 50, gbp: 30, brl: 50, cad: 50, aud: 50, mxn: 1000, jpy: 50 };
export const ZERO_DECIMAL = new Set([
  'jpy',
  'krw',
  'clp',
  'vnd',
  'xaf',
  'xof',
  'bif',
  'djf',
  'gnf',
  'kmf',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vuv',
  'xpf',
]);

/** A Stripe request error; thrown by parameter validation and turned into Stripe's error object. */
export class StripeRequestError extends Error {
  constructor(
    readonly status: number,
    readonly error: Json,
    /** Results of requests that failed validation are not stored under the idempotency key (as at Stripe). */
    readonly store = false,
  ) {
    super(String(error.message));
  }
}

export function invalid(message: string, param?: string, code?: string): StripeRequestError {
  return new StripeRequestError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) });
}

/** Stripe refuses a parameter the endpoint does not take (not stored under the idempotency key: a validation error). */
export function rejectUnknownParams(method: string, pattern: string, values: FormObject): void {
  const spec = STRIPE_PARAMS[`${method} ${pattern}`];
  if (!spec) throw new Error(`stripe-params.ts has no parameters for ${method} ${pattern}`);
  const param = unknownParam(spec, values);
  if (param) {
    throw new StripeRequestError(400, {
      type: 'invalid_request_error',
      code: 'parameter_unknown',
      doc_url: 'https://stripe.com/docs/error-codes/parameter-unknown',
      message: `Received unknown parameter: ${param}`,
      param,
    });
  }
}

export function missingParam(param: string): StripeRequestError {
  return invalid(`Missing required param: ${param}.`, param, 'parameter_missing');
}

/** A missing object: 404 when it is the object addressed by the URL, 400 when a parameter names it (as at Stripe). */
export function noSuch(kind: string, id: string, param?: string): StripeRequestError {
  return new StripeRequestError(param ? 400 : 404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${kind}: '${id}'`,
    ...(param ? { param } : {}),
  });
}

export function now(): number {
  return Math.floor(Date.now() / 1000);
}

export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function formatAmount(amount: number, currency: string): string {
  const symbol = currency === 'usd' ? '$' : '';
  const value = ZERO_DECIMAL.has(currency) ? String(amount) : (amount / 100).toFixed(2);
  return symbol ? `${symbol}${value}` : `${value} ${currency.toUpperCase()}`;
}

/** Reads Stripe form parameters with Stripe's validation messages. */
export class Params {
  constructor(
    private readonly values: FormObject,
    private readonly prefix = '',
  ) {}

  private name(key: string): string {
    return this.prefix ? `${this.prefix}[${key}]` : key;
  }

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  str(key: string): string | undefined {
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw invalid(`Invalid string: ${this.name(key)}`, this.name(key));
    return value;
  }

  requiredStr(key: string): string {
    const value = this.str(key);
    if (value === undefined || value === '') throw missingParam(this.name(key));
    return value;
  }

  int(key: string): number | undefined {
    const value = this.str(key);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) throw invalid(`Invalid integer: ${value}`, this.name(key), 'parameter_invalid_integer');
    return Number(value);
  }

  bool(key: string): boolean | undefined {
    const value = this.str(key);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') throw invalid(`Invalid boolean: ${value}`, this.name(key));
    return value === 'true';
  }

  obj(key: string): Params | undefined {
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`Invalid hash: ${this.name(key)}`, this.name(key));
    return new Params(value, this.name(key));
  }

  list(key: string): Params[] {
    const value = this.values[key];
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalid(`Invalid array: ${this.name(key)}`, this.name(key));
    return value.map((item, i) => {
      if (typeof item !== 'object' || Array.isArray(item))
        throw invalid(`Invalid hash: ${this.name(key)}[${i}]`, `${this.name(key)}[${i}]`);
      return new Params(item, `${this.name(key)}[${i}]`);
    });
  }

  strings(key: string): string[] {
    const value = this.values[key];
    if (value === undefined) return [];
    const items = Array.isArray(value) ? value : [value];
    return items.map((v) => {
      if (typeof v !== 'string') throw invalid(`Invalid array: ${this.name(key)}`, this.name(key));
      return v;
    });
  }

  metadata(key = 'metadata'): Metadata {
    const value = this.values[key];
    if (value === undefined || value === '') return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw invalid('Invalid hash', this.name(key));
    const out: Metadata = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw invalid(`Invalid metadata value for ${k}`, `${this.name(key)}[${k}]`);
      if (v !== '') out[k] = v;
    }
    return out;
  }
}

export function formBody(req: EmulatorRequest): FormObject {
  const body = asRecord(req.body) ?? {};
  return body as { [key: string]: FormValue };
}

export function addInterval(start: number, interval: string, count: number): number {
  const date = new Date(start * 1000);
  if (interval === 'day') date.setUTCDate(date.getUTCDate() + count);
  else if (interval === 'week') date.setUTCDate(date.getUTCDate() + 7 * count);
  else if (interval === 'year') date.setUTCFullYear(date.getUTCFullYear() + count);
  else date.setUTCMonth(date.getUTCMonth() + count);
  return Math.floor(date.getTime() / 1000);
}

/** Stripe's refusal of a PaymentMethod that was used once without a Customer, or detached. */
export const PAYMENT_METHOD_SPENT =
  'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.';

/** The card error of an off-session charge on a card that needs the customer to authenticate. */
export function offSessionAuthentication(card: TestCard): TestCard {
  return {
    ...card,
    outcome: 'decline',
    code: 'authentication_required',
    declineCode: 'authentication_required',
    message: 'Your card was declined. This transaction requires authentication.',
  };
}

/** `off_session`: a boolean, or (older API versions) `one_off` / `recurring`. */
export function offSessionParam(p: Params): boolean {
  const value = p.str('off_session');
  if (value === undefined || value === 'false') return false;
  if (['true', 'one_off', 'recurring'].includes(value)) return true;
  throw invalid(`Invalid off_session: must be a boolean, one_off or recurring`, 'off_session');
}
