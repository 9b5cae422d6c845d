// Over 400 lines (422) for now: the simulator adapter is the whole provider contract (charges, hosted pages,
// refunds, disputes, the vault, settlement terms, listing). Next split: its hosted-page actions into their own file,
// as the vault (simulator vault) and the listing already are.
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../../config/env';
import { newId, randomBase62 } from '../../../common/ids';
import { PublicUrl } from '../../../common/public-url';
import {
  ChargeInput,
  CreateCheckoutInput,
  PaymentProvider,
  ProviderCheckout,
  ProviderDeclineError,
  ProviderPayment,
  ProviderRefund,
  ProviderRefundStatus,
  ProviderSettlement,
  ProviderTransaction,
  ProviderUnavailableError,
  ProviderWebhookEvent,
  RefundInput,
  SavedMethodRef,
  SaveMethodInput,
  ProviderSavedMethod,
  TransactionWindow,
  WebhookRequest,
  WebhookVerificationError,
} from '../payment-provider';
import {
  claimedDispute,
  CONFIRMED_STATUSES,
  toProviderDispute,
  EVENT_KINDS,
  isValidSimulatorSignature,
  outcomeOf,
  readSimulatorEvent,
  signSimulatorPayload,
  SimulatorEvent,
  toProviderPayment,
  settlementOf,
} from './simulator.mapper';
import { settlementTerms } from './simulator-fees';
import { listSimulatorTransactions } from './simulator-listing';
import { SimulatorCharge, SimulatorRepository, type SimulatorSettlementTerms } from './simulator.repository';
import { SimulatorDispute, SimulatorDisputesRepository } from './simulator-disputes.repository';
import { SimulatorVault } from './simulator-vault';

/** The simulator's dispute fee, in minor units of the charge's currency (as a processor charges one). */
const DISPUTE_FEE = 1500;
const EVIDENCE_DAYS = 7;
import { DEV_SIMULATOR_SECRET, SimulatorInsecureSecretError, simulatorSecretRefused } from './simulator-secret';

const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * A card processor built in, for development, tests and benchmarks. It keeps its own records (its own
 * tables, committed on their own), deduplicates by idempotency key, answers retrieve() from them, and
 * reports hosted-page and 3-D Secure outcomes only by signed webhook, as an outside provider would.
 */
@Injectable()
export class SimulatorProvider implements PaymentProvider, OnModuleInit {
  readonly id = 'simulator' as const;
  /** Built in: always available (routing decides whether it takes real traffic). */
  readonly configured = true;
  /** Its page saves the card in its vault when the session asks (SimulatorVault.saveOnPage). */
  readonly savesOnHostedPage = true;
  private readonly logger = new Logger(SimulatorProvider.name);
  private readonly latencyMs: number;
  private readonly outage: boolean;
  private readonly secret: string;
  private readonly refundSettleSeconds: number;
  private readonly nodeEnv: string;
  private readonly terms: (amount: number) => SimulatorSettlementTerms;

  constructor(
    private readonly records: SimulatorRepository,
    private readonly disputeRecords: SimulatorDisputesRepository,
    private readonly publicUrl: PublicUrl,
    private readonly vault: SimulatorVault,
    config: ConfigService<Env, true>,
  ) {
    this.latencyMs = config.get('SIMULATOR_LATENCY_MS', { infer: true });
    this.outage = config.get('SIMULATOR_OUTAGE', { infer: true });
    this.secret = config.get('SIMULATOR_WEBHOOK_SECRET', { infer: true });
    this.refundSettleSeconds = config.get('SIMULATOR_REFUND_SETTLE_SECONDS', { infer: true });
    this.nodeEnv = config.get('NODE_ENV', { infer: true });
    this.terms = settlementTerms({
      percent: config.get('SIMULATOR_FEE_PERCENT', { infer: true }),
      fixed: config.get('SIMULATOR_FEE_FIXED', { infer: true }),
      availabilityDays: config.get('SIMULATOR_AVAILABILITY_DAYS', { infer: true }),
    });
  }

  onModuleInit(): void {
    if (this.secret !== DEV_SIMULATOR_SECRET || this.nodeEnv === 'test') return;
    if (this.refusing())
      this.logger.warn(
        `SIMULATOR_WEBHOOK_SECRET is the built-in development secret: the simulator's webhook route and pages refuse to serve (503 simulator_insecure_secret). Set SIMULATOR_WEBHOOK_SECRET to enable them.`,
      );
    else
      this.logger.warn('SIMULATOR_WEBHOOK_SECRET is the built-in development secret: anyone can sign simulator events (development only).');
  }

  /** The webhook route and the pages refuse to serve with the published secret outside development and tests. */
  assertServing(): void {
    if (this.refusing()) throw new SimulatorInsecureSecretError();
  }

  private refusing(): boolean {
    return simulatorSecretRefused(this.nodeEnv, this.secret);
  }

  async createCheckout(input: CreateCheckoutInput): Promise<ProviderCheckout> {
    this.assertUp();
    const session = await this.records.recordSession({
      id: `sim_cs_${randomBase62(20)}`,
      idempotencyKey: input.idempotencyKey,
      reference: input.reference,
      merchantId: input.merchantId,
      amount: input.amount,
      currency: input.currency,
      lines: input.lines,
      successUrl: input.successUrl,
      cancelUrl: input.cancelUrl,
      status: 'open',
      saveMethod: input.saveMethod !== undefined,
      customerRef: input.saveMethod?.providerCustomerRef ?? null,
    });
    await this.networkDelay();
    return { providerSessionId: session.id, url: `${this.publicUrl.base()}/simulator/checkout/${session.id}` };
  }

  async saveMethod(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    this.assertUp();
    const saved = await this.vault.save(input);
    await this.networkDelay();
    return saved;
  }

  async detachMethod(ref: SavedMethodRef): Promise<void> {
    this.assertUp();
    await this.vault.detach(ref);
  }

  async charge(input: ChargeInput): Promise<ProviderPayment> {
    this.assertUp();
    const token = input.saved ? await this.vault.tokenOf(input.saved) : input.token;
    const outcome = outcomeOf(token);
    if (outcome.status === 'processing_error')
      throw new ProviderUnavailableError(this.id, 'Simulated processing error', { testToken: true });
    const charge = await this.records.recordCharge(
      {
        id: `sim_ch_${randomBase62(20)}`,
        merchantId: input.merchantId,
        idempotencyKey: input.idempotencyKey,
        token,
        amount: input.amount,
        currency: input.currency,
        status: outcome.status,
        declineCode: outcome.status === 'declined' ? outcome.declineCode : null,
        reference: input.reference,
        sessionId: null,
      },
      this.terms(input.amount),
    );
    await this.networkDelay();
    if (charge.status === 'declined') throw new ProviderDeclineError(this.id, charge.declineCode ?? 'generic_decline', charge.id);
    return toProviderPayment(charge, this.authenticationUrl(charge));
  }

  async retrieve(lookup: { providerRef?: string | null; idempotencyKey: string }): Promise<ProviderPayment | null> {
    this.assertUp();
    const charge = await this.records.findCharge({ id: lookup.providerRef, idempotencyKey: lookup.idempotencyKey });
    return charge ? toProviderPayment(charge, this.authenticationUrl(charge)) : null;
  }

  /** A succeeded charge's fee and availability, from the simulator's books. */
  async retrieveSettlement(providerRef: string): Promise<ProviderSettlement | null> {
    this.assertUp();
    const charge = await this.records.findCharge({ id: providerRef });
    return (charge && settlementOf(charge)) ?? null;
  }

  async refund(input: RefundInput): Promise<ProviderRefund> {
    this.assertUp();
    const token = await this.records.findChargeToken(input.providerRef);
    const outcome = token === null ? null : outcomeOf(token);
    const refund = await this.records.recordRefund({
      id: `sim_re_${randomBase62(20)}`,
      idempotencyKey: input.idempotencyKey,
      chargeId: input.providerRef,
      amount: input.amount,
      settleAfterSeconds: outcome?.status === 'succeeded' && outcome.refundsSettleLater ? this.refundSettleSeconds : null,
    });
    if (!refund)
      throw new ProviderDeclineError(this.id, 'refund_refused', input.providerRef, 'The simulator refused the refund (amount or status).');
    await this.networkDelay();
    return { providerRefundId: refund.id, status: refund.pending ? 'pending' : 'succeeded' };
  }

  async retrieveRefund(lookup: { providerRef: string; providerRefundId: string }): Promise<ProviderRefundStatus> {
    this.assertUp();
    return (await this.records.refundStatus(lookup.providerRefundId)) ?? 'pending';
  }

  /** The simulator's charges, then its disputes, in the window, a page at a time (simulator-listing.ts). */
  listTransactions(window: TransactionWindow): AsyncIterable<ProviderTransaction[]> {
    this.assertUp();
    return listSimulatorTransactions(this.records, this.disputeRecords, window);
  }

  async cancel(providerRef: string): Promise<void> {
    this.assertUp();
    await this.records.cancelAuthentication(providerRef);
  }

  async cancelCheckout(providerSessionId: string): Promise<void> {
    this.assertUp();
    await this.records.setSessionStatus(providerSessionId, 'open', 'canceled');
  }

  async parseWebhook(request: WebhookRequest): Promise<ProviderWebhookEvent> {
    this.assertServing();
    const signature = request.headers['x-signature'];
    if (!isValidSimulatorSignature(request.rawBody, typeof signature === 'string' ? signature : undefined, this.secret)) {
      throw new WebhookVerificationError('Invalid X-Signature');
    }
    const event = readSimulatorEvent(request.rawBody);
    if (!event)
      throw new WebhookVerificationError(
        'Malformed event: id, type, created and data (merchantId, chargeId, amount, currency) are required',
      );
    if (Math.abs(Date.now() / 1000 - event.created) > SIGNATURE_TOLERANCE_SECONDS)
      throw new WebhookVerificationError('Event timestamp outside the tolerance');
    return {
      eventId: event.id,
      type: event.type,
      kind: EVENT_KINDS[event.type] ?? 'other',
      merchantId: event.data.merchantId,
      reference: event.data.reference ?? undefined,
      providerSessionId: event.data.sessionId ?? undefined,
      providerRef: event.data.chargeId,
      amount: event.data.amount,
      currency: event.data.currency,
      declineCode: event.data.declineCode ?? undefined,
      savedMethod: event.data.paymentMethod ? ({ providerMethodRef: event.data.paymentMethod } as ProviderSavedMethod) : undefined,
      dispute: EVENT_KINDS[event.type] === 'dispute' ? claimedDispute(event) : undefined,
      payload: event,
    };
  }

  /**
   * The simulator asks its own books, as Paybridge asks an outside provider's API: the charge an event
   * names must exist, belong to that merchant, session and reference, and be in the state the event
   * reports; the amount and currency are the charge's. Refund reports pass as they are: RefundsService
   * asks retrieve() what is refunded.
   */
  async confirmEvent(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent> {
    if (event.kind === 'dispute') return this.confirmDispute(event);
    const expected = CONFIRMED_STATUSES[event.kind];
    if (!expected) return event;
    const charge = event.providerRef ? await this.records.findCharge({ id: event.providerRef }) : null;
    if (!charge) throw new WebhookVerificationError(`The simulator has no charge ${event.providerRef ?? '(none named)'}`);
    if (!expected.includes(charge.status)) throw new WebhookVerificationError(`The simulator's charge ${charge.id} is ${charge.status}`);
    const hosted = event.kind === 'checkout.completed' || event.kind === 'checkout.attempt_failed';
    if (hosted !== (charge.sessionId !== null))
      throw new WebhookVerificationError(`The simulator's charge ${charge.id} was ${hosted ? 'not ' : ''}made on a hosted page`);
    const savedMethod = event.kind === 'checkout.completed' && charge.sessionId ? await this.vault.savedOnPage(charge.sessionId) : null;
    if ((savedMethod?.providerMethodRef ?? null) !== (event.savedMethod?.providerMethodRef ?? null))
      throw new WebhookVerificationError(`The simulator's vault does not show the saved method the event names`);
    return {
      ...event,
      merchantId: charge.merchantId,
      reference: charge.reference ?? undefined,
      providerSessionId: charge.sessionId ?? undefined,
      providerRef: charge.id,
      amount: charge.amount,
      currency: charge.currency,
      declineCode: charge.declineCode ?? undefined,
      savedMethod: savedMethod ?? undefined,
    };
  }

  /** A dispute event is the simulator's only if its records hold that dispute: then as they show it. */
  private async confirmDispute(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent> {
    const id = event.dispute?.providerDisputeId;
    const dispute = id ? await this.disputeRecords.find(id) : null;
    if (!dispute) throw new WebhookVerificationError(`The simulator has no dispute ${id ?? '(none named)'}`);
    return {
      ...event,
      merchantId: dispute.merchantId,
      providerRef: dispute.chargeId,
      amount: dispute.amount,
      currency: dispute.currency,
      dispute: toProviderDispute(dispute),
    };
  }

  // ---- the simulator's dashboard: disputes (development) ----

  /** The cardholder disputes a succeeded charge (all of it, or `amount`): recorded, then told by webhook. */
  async openDispute(chargeId: string, input: { reason?: string; amount?: number }): Promise<SimulatorDispute | null> {
    const charge = await this.records.findCharge({ id: chargeId });
    if (!charge || charge.status !== 'succeeded') return null;
    const dispute = await this.disputeRecords.insert({
      id: `sim_dp_${randomBase62(20)}`,
      chargeId: charge.id,
      merchantId: charge.merchantId,
      amount: Math.min(input.amount ?? charge.amount, charge.amount),
      currency: charge.currency,
      reason: input.reason ?? 'fraudulent',
      status: 'needs_response',
      fee: DISPUTE_FEE,
      evidenceDueBy: new Date(Date.now() + EVIDENCE_DAYS * 86_400_000),
    });
    await this.sendWebhook('charge.dispute.created', charge.merchantId, charge, dispute);
    return dispute;
  }

  /** The card network decides: null when no open dispute has that id. */
  async closeDispute(id: string, outcome: 'won' | 'lost'): Promise<SimulatorDispute | null> {
    const dispute = await this.disputeRecords.close(id, outcome);
    if (!dispute) return null;
    const charge = await this.records.findCharge({ id: dispute.chargeId });
    if (charge) await this.sendWebhook('charge.dispute.closed', dispute.merchantId, charge, dispute);
    return dispute;
  }

  // ---- the simulator's own customer-facing side (hosted page, 3-D Secure page) ----

  /** The customer pressed Pay or Decline on the hosted page: record the charge, then tell Paybridge by webhook. */
  async submitHostedPayment(sessionId: string, approve: boolean): Promise<{ redirectTo: string } | null> {
    const session = await this.records.findSession(sessionId);
    if (!session || session.status !== 'open') return null;
    const charge = await this.records.recordCharge(
      {
        id: `sim_ch_${randomBase62(20)}`,
        merchantId: session.merchantId,
        idempotencyKey: `hosted:${sessionId}:${newId('evt')}`,
        token: approve ? 'tok_visa' : 'tok_chargeDeclined',
        amount: session.amount,
        currency: session.currency,
        status: approve ? 'succeeded' : 'declined',
        declineCode: approve ? null : 'generic_decline',
        reference: session.reference,
        sessionId,
      },
      this.terms(session.amount),
    );
    const saved = approve ? await this.vault.saveOnPage(session, charge.token) : null;
    if (approve) await this.records.setSessionStatus(sessionId, 'open', 'complete');
    const type = approve ? 'checkout.session.completed' : 'checkout.session.payment_failed';
    await this.sendWebhook(type, session.merchantId, charge, undefined, saved?.providerMethodRef);
    return { redirectTo: approve ? session.successUrl : session.cancelUrl };
  }

  async submitAuthentication(chargeId: string, approve: boolean): Promise<boolean> {
    const charge = approve ? await this.records.completeAuthentication(chargeId) : await this.records.failAuthentication(chargeId);
    if (!charge) return false;
    await this.sendWebhook(approve ? 'charge.succeeded' : 'charge.failed', charge.merchantId, charge);
    return true;
  }

  findSession(id: string) {
    return this.records.findSession(id);
  }

  findCharge(id: string) {
    return this.records.findCharge({ id });
  }

  private async sendWebhook(
    type: SimulatorEvent['type'],
    merchantId: string,
    charge: SimulatorCharge,
    dispute?: SimulatorDispute,
    paymentMethod?: string,
  ): Promise<void> {
    const event: SimulatorEvent = {
      id: `evt_sim_${randomBase62(20)}`,
      type,
      created: Math.floor(Date.now() / 1000),
      data: {
        merchantId,
        reference: charge.reference,
        sessionId: charge.sessionId,
        chargeId: charge.id,
        amount: dispute?.amount ?? charge.amount,
        currency: charge.currency,
        declineCode: charge.declineCode,
        ...(paymentMethod && { paymentMethod }),
        ...(dispute && {
          dispute: {
            id: dispute.id,
            status: dispute.status,
            reason: dispute.reason,
            fee: dispute.fee,
            evidenceDueBy: dispute.evidenceDueBy.toISOString(),
          },
        }),
      },
    };
    const body = JSON.stringify(event);
    const res = await fetch(`${this.publicUrl.base()}/webhooks/simulator`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Signature': signSimulatorPayload(body, this.secret) },
      body,
    });
    if (!res.ok) this.logger.warn({ status: res.status, eventId: event.id }, 'simulator webhook was not accepted');
  }

  private authenticationUrl(charge: SimulatorCharge): string {
    return `${this.publicUrl.base()}/simulator/3ds/${charge.id}`;
  }

  private assertUp(): void {
    if (this.outage) throw new ProviderUnavailableError(this.id, 'Simulated outage (SIMULATOR_OUTAGE=true)');
  }

  private async networkDelay(): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
  }
}
