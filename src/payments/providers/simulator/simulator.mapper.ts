import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  mapStatus,
  type DisputeStatus,
  type ProviderDispute,
  type ProviderEventKind,
  type ProviderPayment,
  type ProviderPaymentStatus,
  type ProviderTransaction,
} from '../payment-provider';
import type { SimulatorDispute } from './simulator-disputes.repository';
import type { SimulatorCharge, SimulatorChargeListing } from './simulator.repository';

/** The simulator's test tokens and what each does (README, "Simulator"). */
export type TokenOutcome =
  | { status: 'succeeded'; refundsSettleLater?: true }
  | { status: 'requires_action' }
  | { status: 'declined'; declineCode: string; saveable?: true }
  | { status: 'processing_error' };

export const TEST_TOKENS: Readonly<Record<string, TokenOutcome>> = {
  tok_visa: { status: 'succeeded' },
  tok_mastercard: { status: 'succeeded' },
  // Its refunds are answered `pending` and settle SIMULATOR_REFUND_SETTLE_SECONDS later, as some
  // processors' do: Paybridge books them once the processor reports them refunded.
  tok_refundPending: { status: 'succeeded', refundsSettleLater: true },
  tok_chargeDeclined: { status: 'declined', declineCode: 'generic_decline' },
  tok_insufficientFunds: { status: 'declined', declineCode: 'insufficient_funds' },
  tok_expiredCard: { status: 'declined', declineCode: 'expired_card' },
  tok_threeDSecure: { status: 'requires_action' },
  // Saving it succeeds; every charge on it declines (Stripe's pm_card_chargeCustomerFail): dunning tests.
  tok_chargeCustomerFail: { status: 'declined', declineCode: 'generic_decline', saveable: true },
  // Saving it succeeds; every charge on it is a hard decline (a card reported stolen since).
  tok_chargeCustomerFailStolen: { status: 'declined', declineCode: 'stolen_card', saveable: true },
  tok_processingError: { status: 'processing_error' },
};

/** Whether the simulator's vault accepts the token: a card that charges, or one that only fails later. */
export function saveable(outcome: TokenOutcome): boolean {
  return outcome.status === 'succeeded' || (outcome.status === 'declined' && outcome.saveable === true);
}

/** What a saved card shows: the test cards' brand and last four digits, as the simulator's pages show them. */
export function cardOf(token: string): { brand: string; last4: string } {
  if (token === 'tok_mastercard') return { brand: 'mastercard', last4: '4444' };
  if (token.startsWith('tok_chargeCustomerFail')) return { brand: 'visa', last4: '0341' };
  return { brand: 'visa', last4: '4242' };
}

export function outcomeOf(token: string): TokenOutcome {
  return TEST_TOKENS[token] ?? { status: 'declined', declineCode: 'invalid_payment_method' };
}

/** Every status a simulator charge can have (exhaustive; an unknown one read from the table throws). */
export const SIMULATOR_CHARGE_STATUSES: Readonly<Record<SimulatorCharge['status'], ProviderPaymentStatus>> = {
  succeeded: 'succeeded',
  requires_action: 'requires_action',
  declined: 'declined',
  failed: 'declined',
  canceled: 'canceled',
};

export function toProviderPayment(charge: SimulatorCharge, nextActionUrl?: string): ProviderPayment {
  return {
    providerRef: charge.id,
    status: mapStatus('simulator', 'charge', SIMULATOR_CHARGE_STATUSES, charge.status),
    amount: charge.amount,
    currency: charge.currency,
    amountRefunded: charge.amountRefunded,
    declineCode: charge.declineCode ?? undefined,
    nextActionUrl: charge.status === 'requires_action' ? nextActionUrl : undefined,
  };
}

/** A listed charge, for reconciliation: its status in our terms, its reference (our payment id). */
export function toProviderTransaction(charge: SimulatorChargeListing): ProviderTransaction {
  return {
    providerRef: charge.id,
    kind: 'charge',
    status: mapStatus('simulator', 'charge', SIMULATOR_CHARGE_STATUSES, charge.status),
    amount: Number(charge.amount),
    amountRefunded: Number(charge.amountRefunded),
    currency: charge.currency,
    reference: charge.reference,
    merchantId: charge.merchantId,
    createdAt: charge.createdAt,
  };
}

/** The simulator's webhook event, as it posts it to /webhooks/simulator. */
export interface SimulatorEvent {
  id: string;
  type:
    | 'checkout.session.completed'
    | 'checkout.session.payment_failed'
    | 'charge.succeeded'
    | 'charge.failed'
    | 'charge.refunded'
    | 'charge.dispute.created'
    | 'charge.dispute.closed';
  created: number;
  data: {
    merchantId: string;
    reference: string | null;
    sessionId: string | null;
    chargeId: string;
    amount: number;
    currency: string;
    declineCode?: string | null;
    /** checkout.session.completed of a session that asked to save the card: the vault's method (`sim_pm_…`). */
    paymentMethod?: string;
    /** Dispute events: the simulator's dispute (its amount and currency are the event's). */
    dispute?: { id: string; status: string; reason: string; fee: number; evidenceDueBy: string };
  };
}

export const EVENT_KINDS: Record<SimulatorEvent['type'], ProviderEventKind> = {
  'checkout.session.completed': 'checkout.completed',
  'checkout.session.payment_failed': 'checkout.attempt_failed',
  'charge.succeeded': 'payment.succeeded',
  'charge.failed': 'payment.failed',
  // Refunds of a charge (its dashboard): Paybridge asks the simulator what it shows refunded.
  'charge.refunded': 'payment.refunded',
  // Paybridge asks the simulator's records for the dispute (confirmEvent) before it books anything.
  'charge.dispute.created': 'dispute',
  'charge.dispute.closed': 'dispute',
};

/** The states of its charge in which the simulator confirms an event of each kind. */
export const CONFIRMED_STATUSES: Partial<Record<ProviderEventKind, SimulatorCharge['status'][]>> = {
  'checkout.completed': ['succeeded'],
  'payment.succeeded': ['succeeded'],
  'checkout.attempt_failed': ['declined', 'failed'],
  'payment.failed': ['declined', 'failed'],
};

/** X-Signature: hex HMAC-SHA256 of the raw body. */
export function signSimulatorPayload(payload: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

export function isValidSimulatorSignature(payload: Buffer, signature: string | undefined, secret: string): boolean {
  if (!signature || !/^[0-9a-f]{64}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signSimulatorPayload(payload, secret), 'hex'), Buffer.from(signature, 'hex'));
}

/** A signed event that is not the shape the simulator sends (no `data`, wrong types) is refused, not a 500. */
export function readSimulatorEvent(rawBody: Buffer): SimulatorEvent | null {
  let event: Partial<SimulatorEvent> | null;
  try {
    event = JSON.parse(rawBody.toString('utf8')) as Partial<SimulatorEvent> | null;
  } catch {
    return null;
  }
  const data = event?.data;
  const valid =
    typeof event?.id === 'string' &&
    typeof event.type === 'string' &&
    typeof event.created === 'number' &&
    data !== null &&
    typeof data === 'object' &&
    typeof data.merchantId === 'string' &&
    typeof data.chargeId === 'string' &&
    Number.isInteger(data.amount) &&
    typeof data.currency === 'string';
  return valid ? (event as SimulatorEvent) : null;
}

/** A simulator dispute in our terms: its funds are withdrawn when it opens and given back when it is won. */
export function toProviderDispute(dispute: SimulatorDispute): ProviderDispute {
  return {
    providerDisputeId: dispute.id,
    chargeRef: dispute.chargeId,
    amount: dispute.amount,
    currency: dispute.currency,
    reason: dispute.reason,
    status: dispute.status,
    providerStatus: dispute.status,
    evidenceDueBy: dispute.evidenceDueBy,
    fundsWithdrawn: true,
    fundsReinstated: dispute.status === 'won',
    fee: dispute.fee,
  };
}

/** What a dispute event claims (confirmEvent replaces it with the simulator's record). */
export function claimedDispute(event: SimulatorEvent): ProviderDispute | undefined {
  const claimed = event.data.dispute;
  if (!claimed || typeof claimed.id !== 'string') return undefined;
  return toProviderDispute({
    id: claimed.id,
    chargeId: event.data.chargeId,
    merchantId: event.data.merchantId,
    amount: event.data.amount,
    currency: event.data.currency,
    reason: String(claimed.reason ?? ''),
    status: claimed.status as DisputeStatus,
    fee: Number.isInteger(claimed.fee) ? claimed.fee : 0,
    evidenceDueBy: new Date(claimed.evidenceDueBy),
  });
}
