import type { EmulatorResponse } from './emulator-server';
import { json } from './emulator-server';
import type { MercadoPagoPaymentStatus } from './mercadopago-emulator';

/** What the Mercado Pago emulator's resources share: card tokens, test cardholders, errors. */

export type Json = Record<string, unknown>;

export interface CardToken {
  id: string;
  cardholderName: string;
  firstSix: string;
  lastFour: string;
  expirationMonth: number;
  expirationYear: number;
  used: boolean;
  body: Json;
  /** A token made from a saved card (`card_id`): only that card's customer may pay with it. */
  cardId?: string;
  customerId?: string;
}

/** Outcome by test cardholder name (https://www.mercadopago.com.br/developers/en/docs/checkout-api/integration-test/test-cards). */
export const CARDHOLDER_OUTCOMES: Record<string, { status: MercadoPagoPaymentStatus; detail: string }> = {
  APRO: { status: 'approved', detail: 'accredited' },
  CONT: { status: 'in_process', detail: 'pending_contingency' },
  OTHE: { status: 'rejected', detail: 'cc_rejected_other_reason' },
  CALL: { status: 'rejected', detail: 'cc_rejected_call_for_authorize' },
  FUND: { status: 'rejected', detail: 'cc_rejected_insufficient_amount' },
  SECU: { status: 'rejected', detail: 'cc_rejected_bad_filled_security_code' },
  EXPI: { status: 'rejected', detail: 'cc_rejected_bad_filled_date' },
  FORM: { status: 'rejected', detail: 'cc_rejected_bad_filled_other' },
  DUPL: { status: 'rejected', detail: 'cc_rejected_duplicated_payment' },
  LOCK: { status: 'rejected', detail: 'cc_rejected_card_disabled' },
  BLAC: { status: 'rejected', detail: 'cc_rejected_blacklist' },
  INST: { status: 'rejected', detail: 'cc_rejected_invalid_installments' },
};

export const CARD_METHODS: Record<string, string> = {
  visa: 'credit_card',
  master: 'credit_card',
  amex: 'credit_card',
  elo: 'credit_card',
  hipercard: 'credit_card',
  cabal: 'credit_card',
  naranja: 'credit_card',
  debvisa: 'debit_card',
  debmaster: 'debit_card',
  debelo: 'debit_card',
};

/** Mercado Pago's error object: `{message, error, status, cause: [{code, description, data}]}`. */
export function mpError(
  status: number,
  error: string,
  message: string,
  cause: { code: number | string; description: string }[] = [],
): EmulatorResponse {
  return json(status, { message, error, status, cause: cause.map((c) => ({ ...c, data: null })) });
}

export class MpRequestError extends Error {
  constructor(readonly response: EmulatorResponse) {
    super('Mercado Pago request error');
  }
}

export function badRequest(message: string, code: number | string): MpRequestError {
  return new MpRequestError(mpError(400, 'bad_request', message, [{ code, description: message }]));
}

export function isoNow(): string {
  // Mercado Pago answers local times with an offset (e.g. 2026-11-23T10:20:30.123-04:00); UTC here.
  return new Date().toISOString().replace('Z', '+00:00');
}

export function toCents(amount: number): number {
  return Math.round(amount * 100);
}

export function fromCents(cents: number): number {
  return cents / 100;
}

export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The card brand (Mercado Pago's payment_method_id) of a test card number, by its BIN. */
export function brandOfBin(firstSix: string): string {
  if (/^(4011|4389|4514|4576|5041|5066|5067|5090|6277|6362|6363|6504|6505|6516)/.test(firstSix)) return 'elo';
  if (firstSix.startsWith('4')) return 'visa';
  if (/^(5[1-5]|2[2-7]|50)/.test(firstSix)) return 'master';
  if (/^3[47]/.test(firstSix)) return 'amex';
  if (firstSix.startsWith('6062')) return 'hipercard';
  return 'visa';
}

export function notFound(message: string, code: number | string): MpRequestError {
  return new MpRequestError(mpError(404, 'not_found', message, [{ code, description: message }]));
}
