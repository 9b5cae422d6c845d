// Over 400 lines on purpose: it mirrors Mercado Pago's API surface and its state in one place, so each
// strictness check sits next to the state it guards.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { AppConfig } from 'mercadopago/dist/utils/config';
import {
  asRecord,
  asString,
  canonicalJson,
  DeliveryRecord,
  EmulatorRequest,
  EmulatorResponse,
  EmulatorServer,
  escapeHtml,
  headerValue,
  html,
  json,
  redirect,
} from './emulator-server';
import {
  badRequest,
  CARD_METHODS,
  CARDHOLDER_OUTCOMES,
  CardToken,
  clone,
  fromCents,
  isoNow,
  mpError,
  MpRequestError,
  toCents,
} from './mercadopago-emulator-support';
import { MercadoPagoCustomers } from './mercadopago-emulator-customers';

/**
 * Mercado Pago emulator: card tokens, payments (cards by test cardholder name, Pix), refunds, payment
 * search, Checkout Pro preferences with a hosted page, X-Idempotency-Key, and webhooks signed with
 * `x-signature` as Mercado Pago does. JSON in, JSON out. See README.md.
 */

export interface MercadoPagoEmulatorOptions {
  /** The application's secret signature ("Your integrations" → Webhooks) used for `x-signature`. */
  webhookSecret: string;
  /** The webhook URL configured for the application; a payment's own `notification_url` takes precedence. */
  webhookUrl?: string;
  /** When set, only this access token is accepted; otherwise any non-empty bearer token. */
  accessToken?: string;
  /** Currency of the seller's site (a payment has no currency parameter). Default BRL. */
  currencyId?: string;
  /** Seller user id (`collector_id`, `user_id` in webhooks). */
  collectorId?: number;
  /** Unit of `ts` in `x-signature`: seconds (default, what the SDK's validator expects) or milliseconds. */
  signatureTimestampUnit?: 's' | 'ms';
}

import type { Json } from './mercadopago-emulator-support';

export type MercadoPagoPaymentStatus = 'approved' | 'pending' | 'in_process' | 'rejected' | 'refunded' | 'cancelled' | 'charged_back';

export interface MercadoPagoPayment {
  id: number;
  date_created: string;
  date_approved: string | null;
  date_last_updated: string;
  money_release_date: string | null;
  operation_type: 'regular_payment';
  payment_method_id: string;
  payment_type_id: string;
  status: MercadoPagoPaymentStatus;
  status_detail: string;
  currency_id: string;
  description: string | null;
  live_mode: false;
  collector_id: number;
  payer: Json;
  metadata: Json;
  external_reference: string | null;
  transaction_amount: number;
  transaction_amount_refunded: number;
  installments: number;
  transaction_details: Json;
  captured: boolean;
  binary_mode: boolean;
  notification_url: string | null;
  statement_descriptor: string | null;
  refunds: MercadoPagoRefund[];
  card: Json;
  order: Json;
  point_of_interaction: Json;
  fee_details: Json[];
}

export interface MercadoPagoRefund {
  id: number;
  payment_id: number;
  amount: number;
  metadata: Json;
  source: Json;
  date_created: string;
  unique_sequence_number: null;
  refund_mode: 'standard';
  adjustment_amount: number;
  /** `in_process` only when a test held it (holdNextRefunds), until settleRefund(). */
  status: 'approved' | 'in_process' | 'rejected';
  reason: string | null;
  labels: string[];
  partition_details: Json[];
}

export interface MercadoPagoPreference {
  id: string;
  init_point: string;
  sandbox_init_point: string;
  items: Json[];
  payer: Json;
  back_urls: { success?: string; failure?: string; pending?: string };
  auto_return: string;
  external_reference: string;
  notification_url: string | null;
  metadata: Json;
  collector_id: number;
  client_id: string;
  date_created: string;
  operation_type: 'regular_payment';
  marketplace: 'NONE';
  expires: boolean;
  statement_descriptor: string | null;
}

export interface IdempotencyKeyUse {
  key: string;
  method: string;
  path: string;
  /** Id of the resource the key created (payment id, refund id, preference id, token id). */
  resourceId?: string;
  /** True when the key had been seen before on this endpoint and the stored answer was replayed. */
  replayed: boolean;
  /** False when a different request reused a key seen before: refused with 409, nothing replayed or created. */
  sameBody: boolean;
  at: Date;
}

export interface MercadoPagoNotification {
  id: number;
  action: string;
  paymentId: number;
  url: string;
  body: string;
  requestId: string;
  signature: string;
}

export class MercadoPagoEmulator extends EmulatorServer {
  webhookUrl?: string;
  readonly webhookSecret: string;
  readonly currencyId: string;
  readonly collectorId: number;
  private readonly accessToken?: string;
  private readonly timestampUnit: 's' | 'ms';
  /** Customers and their saved cards (mercadopago-emulator-customers.ts). */
  private readonly customerApi: MercadoPagoCustomers;

  private readonly tokens = new Map<string, CardToken>();
  private readonly paymentMap = new Map<number, MercadoPagoPayment>();
  private readonly preferenceMap = new Map<string, MercadoPagoPreference>();
  private readonly idempotencyStore = new Map<string, { body: string; status: number; response: unknown }>();
  private readonly keysSeen: IdempotencyKeyUse[] = [];
  private refundsToHold = 0;
  private readonly notificationMap = new Map<number, MercadoPagoNotification>();
  private readonly chargebackMap = new Map<string, Record<string, unknown>>();
  private nextPaymentId = 1_300_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  private nextRefundId = 2_100_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  private nextNotificationId = 115_000_000_000 + Math.floor(Math.random() * 1_000_000);
  private nextMerchantOrderId = 24_000_000_000 + Math.floor(Math.random() * 1_000_000);

  constructor(options: MercadoPagoEmulatorOptions) {
    super('Mercado Pago');
    this.webhookSecret = options.webhookSecret;
    this.webhookUrl = options.webhookUrl;
    this.accessToken = options.accessToken;
    this.currencyId = options.currencyId ?? 'BRL';
    this.collectorId = options.collectorId ?? 1_234_567_890;
    this.timestampUnit = options.signatureTimestampUnit ?? 's';

    const api = { auth: true };
    const money = { auth: true, money: true };
    this.customerApi = new MercadoPagoCustomers(this.collectorId);
    const customers = this.customerApi;
    this.route('POST', '/v1/customers', (req) => this.idempotent(req, () => json(201, customers.create(asRecord(req.body) ?? {}))), api);
    this.route('GET', '/v1/customers/search', (req) => this.run(() => json(200, customers.search(req.query))), api);
    this.route('GET', '/v1/customers/:id', (req) => this.run(() => json(200, customers.get(req.params.id))), api);
    this.route(
      'POST',
      '/v1/customers/:id/cards',
      (req) => this.idempotent(req, () => json(201, customers.addCard(req.params.id, asRecord(req.body) ?? {}, this.tokens))),
      api,
    );
    this.route('GET', '/v1/customers/:id/cards', (req) => this.run(() => json(200, customers.listCards(req.params.id))), api);
    this.route(
      'GET',
      '/v1/customers/:id/cards/:cardId',
      (req) => this.run(() => json(200, customers.getCard(req.params.id, req.params.cardId))),
      api,
    );
    this.route(
      'DELETE',
      '/v1/customers/:id/cards/:cardId',
      (req) => this.run(() => json(200, customers.deleteCard(req.params.id, req.params.cardId))),
      api,
    );
    this.route('POST', '/v1/card_tokens', (req) => this.idempotent(req, () => this.createCardToken(req)), api);
    this.route('GET', '/v1/card_tokens/:id', (req) => this.run(() => this.getCardToken(req.params.id)), api);
    this.route('POST', '/v1/payments', (req) => this.idempotent(req, () => this.createPayment(req), true), money);
    this.route('GET', '/v1/payments/search', (req) => this.run(() => this.searchPayments(req)), api);
    this.route('GET', '/v1/payments/:id', (req) => this.run(() => json(200, clone(this.getPayment(req.params.id)))), api);
    this.route('PUT', '/v1/payments/:id', (req) => this.idempotent(req, () => this.updatePayment(req)), api);
    this.route('POST', '/v1/payments/:id/refunds', (req) => this.idempotent(req, () => this.createRefund(req), true), money);
    this.route('GET', '/v1/payments/:id/refunds', (req) => this.run(() => json(200, clone(this.getPayment(req.params.id).refunds))), api);
    this.route('GET', '/v1/payments/:id/refunds/:refundId', (req) => this.run(() => this.getRefund(req)), api);
    this.route('POST', '/checkout/preferences', (req) => this.idempotent(req, () => this.createPreference(req)), money);
    this.route('GET', '/checkout/preferences/:id', (req) => this.run(() => json(200, clone(this.getPreference(req.params.id)))), api);

    // Hosted Checkout Pro page and emulator control.
    this.route('GET', '/checkout/v1/redirect', (req) => this.checkoutPage(req));
    this.route('POST', '/_emulator/preferences/:id/pay', (req) => this.payRoute(req));
    this.route('POST', '/_emulator/payments/:id/settle', (req) => this.settleRoute(req));
    this.route('POST', '/_emulator/refunds/hold', (req) => {
      this.holdNextRefunds(Number(asRecord(req.body)?.count ?? 1));
      return json(200, { held: this.refundsToHold });
    });
    this.route('POST', '/_emulator/payments/:id/refunds/:refundId/settle', (req) => this.settleRefundRoute(req));
    this.route('POST', '/_emulator/notifications/:id/resend', (req) => this.resendRoute(req));
    this.route('GET', '/v1/chargebacks/search', (req) => this.run(() => this.searchChargebacks(req)), api);
    this.route('GET', '/v1/chargebacks/:id', (req) => this.run(() => json(200, clone(this.getChargeback(req.params.id)))), api);
    this.route('POST', '/_emulator/payments/:id/chargeback', async (req) => json(200, await this.createChargeback(req.params.id)));
    this.route('POST', '/_emulator/chargebacks/:id/close', async (req) =>
      json(200, await this.closeChargeback(req.params.id, asRecord(req.body)?.outcome === 'lost' ? 'lost' : 'won')),
    );
    this.route('POST', '/_emulator/webhook-url', (req) => {
      this.webhookUrl = asString(asRecord(req.body)?.url) || undefined;
      return json(200, { webhookUrl: this.webhookUrl ?? null });
    });
  }

  // ================================================================ accessors

  /** Customers, with their saved cards. */
  customers(): Json[] {
    return this.customerApi.customers().map((c) => this.customerApi.get(String(c.id)));
  }

  payments(): MercadoPagoPayment[] {
    return [...this.paymentMap.values()].map(clone);
  }

  preferences(): MercadoPagoPreference[] {
    return [...this.preferenceMap.values()].map(clone);
  }

  /** Every X-Idempotency-Key received on a POST/PUT, in order, with what it created and whether it was replayed. */
  idempotencyKeysSeen(): IdempotencyKeyUse[] {
    return this.keysSeen.map((k) => ({ ...k }));
  }

  notifications(): MercadoPagoNotification[] {
    return [...this.notificationMap.values()].map((n) => ({ ...n }));
  }

  // ================================================================ control

  /**
   * Pays a preference as a buyer on the hosted page would, with a test cardholder name (APRO, OTHE,
   * FUND, CONT, …): creates the payment (external_reference, metadata and notification_url of the
   * preference) and sends `payment.created`. Resolves after the webhook was delivered.
   */
  async payPreference(preferenceId: string, options: { cardholderName?: string; email?: string } = {}): Promise<MercadoPagoPayment> {
    const pref = this.preferenceMap.get(preferenceId);
    if (!pref) throw new Error(`Preference ${preferenceId} not found`);
    const total = pref.items.reduce((sum, item) => sum + toCents(Number(item.unit_price)) * Number(item.quantity), 0);
    const name = (options.cardholderName ?? 'APRO').toUpperCase();
    const outcome = CARDHOLDER_OUTCOMES[name] ?? CARDHOLDER_OUTCOMES.APRO;
    const payment = this.newPayment({
      amountCents: total,
      currencyId: String(pref.items[0]?.currency_id ?? this.currencyId),
      description: String(pref.items[0]?.title ?? ''),
      paymentMethodId: 'visa',
      paymentTypeId: 'credit_card',
      installments: 1,
      payer: { email: options.email ?? asString(pref.payer.email) ?? 'test_user@testuser.com' },
      externalReference: pref.external_reference || null,
      metadata: pref.metadata,
      notificationUrl: pref.notification_url,
      statementDescriptor: pref.statement_descriptor,
      binaryMode: false,
      outcome,
      card: { first_six_digits: '503143', last_four_digits: '6351', cardholder: { name } },
    });
    payment.order = { type: 'mercadopago', id: this.nextMerchantOrderId++ };
    await this.notify(payment, 'payment.created');
    return clone(payment);
  }

  /** While true, notifications are lost on the way (a webhook that never comes): nothing is sent. */
  notificationsLost = false;

  /** Mercado Pago loses a payment (one of ours that the provider does not know). */
  forgetPayment(paymentId: number): void {
    if (!this.paymentMap.delete(paymentId)) throw new Error(`Payment ${paymentId} not found`);
  }

  /** Changes a payment's amount in Mercado Pago's records (a discrepancy planted for reconciliation). */
  setTransactionAmount(paymentId: number, amount: number): void {
    const payment = this.paymentMap.get(paymentId);
    if (!payment) throw new Error(`Payment ${paymentId} not found`);
    payment.transaction_amount = amount;
  }

  /**
   * Resolves a pending/in_process payment (CONT, Pix) to approved or rejected and sends `payment.updated`.
   */
  async settlePayment(paymentId: number, status: 'approved' | 'rejected' = 'approved'): Promise<MercadoPagoPayment> {
    const payment = this.paymentMap.get(paymentId);
    if (!payment) throw new Error(`Payment ${paymentId} not found`);
    if (payment.status !== 'pending' && payment.status !== 'in_process') throw new Error(`Payment ${paymentId} is ${payment.status}`);
    payment.status = status;
    payment.status_detail = status === 'approved' ? 'accredited' : 'cc_rejected_other_reason';
    payment.date_last_updated = isoNow();
    if (status === 'approved') payment.date_approved = payment.date_last_updated;
    await this.notify(payment, 'payment.updated');
    return clone(payment);
  }

  /**
   * The next `count` refunds are answered `in_process` (Mercado Pago's status for a refund it settles
   * later) and stay so until settleRefund(); meanwhile the payment does not count them as refunded.
   */
  holdNextRefunds(count = 1): void {
    this.refundsToHold = count;
  }

  /**
   * Settles an `in_process` refund: `approved` (then refunded on its payment) or `rejected`; sends
   * `payment.updated` about its payment. Resolves after the delivery.
   */
  async settleRefund(paymentId: number, refundId: number, outcome: 'approved' | 'rejected' = 'approved'): Promise<MercadoPagoRefund> {
    const payment = this.paymentMap.get(paymentId);
    const refund = payment?.refunds.find((r) => r.id === refundId);
    if (!payment || !refund) throw new Error(`Refund ${refundId} of payment ${paymentId} not found`);
    if (refund.status !== 'in_process') throw new Error(`Refund ${refundId} is ${refund.status}, not in_process`);
    refund.status = outcome;
    if (outcome === 'approved') this.applyRefund(payment, toCents(refund.amount));
    else payment.date_last_updated = isoNow();
    await this.notify(payment, 'payment.updated');
    return clone(refund);
  }

  /** Sends a webhook about a payment now; `secret` signs with another secret (a forged notification). */
  async sendNotification(
    paymentId: number,
    action = 'payment.updated',
    options: { secret?: string } = {},
  ): Promise<DeliveryRecord | undefined> {
    const payment = this.paymentMap.get(paymentId);
    if (!payment) throw new Error(`Payment ${paymentId} not found`);
    return this.notify(payment, action, options.secret);
  }

  /**
   * Sends an earlier notification again. By default with a new x-request-id and signature (Mercado
   * Pago's retries); with `sameSignature: true` byte-for-byte the first one (a captured replay).
   */
  async resend(notificationId: number, options: { sameSignature?: boolean } = {}): Promise<DeliveryRecord> {
    const notification = this.notificationMap.get(notificationId);
    if (!notification) throw new Error(`Notification ${notificationId} not found`);
    if (options.sameSignature) {
      return this.deliver({
        kind: 'webhook',
        subjectId: String(notificationId),
        url: notification.url,
        headers: this.webhookHeaders(notification.signature, notification.requestId),
        body: notification.body,
      });
    }
    const requestId = randomUUID();
    const signature = this.sign(String(notification.paymentId), requestId);
    return this.deliver({
      kind: 'webhook',
      subjectId: String(notificationId),
      url: notification.url,
      headers: this.webhookHeaders(signature, requestId),
      body: notification.body,
    });
  }

  /** The `x-signature` value Mercado Pago would send for this data.id and x-request-id. */
  sign(dataId: string, requestId: string, ts = this.timestamp(), secret = this.webhookSecret): string {
    const manifest = `id:${dataId.toLowerCase()};request-id:${requestId};ts:${ts};`;
    return `ts=${ts},v1=${createHmac('sha256', secret).update(manifest).digest('hex')}`;
  }

  // ================================================================ base hooks

  protected override authenticate(req: EmulatorRequest): EmulatorResponse | null {
    const header = headerValue(req.headers, 'authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : (req.search.get('access_token') ?? '');
    if (!token || (this.accessToken !== undefined && token !== this.accessToken)) {
      return mpError(401, 'unauthorized', 'invalid access token', [{ code: 401, description: 'Invalid token' }]);
    }
    return null;
  }

  protected override faultResponse(status: number): EmulatorResponse {
    if (status === 429) {
      const response = mpError(429, 'too_many_requests', 'Too many requests');
      response.headers = { 'Retry-After': '1' };
      return response;
    }
    if (status >= 500) return mpError(status, 'internal_server_error', 'internal_error (injected by the Mercado Pago emulator)');
    return mpError(status, 'bad_request', `injected failure (HTTP ${status})`);
  }

  protected override notFound(): EmulatorResponse {
    return mpError(404, 'not_found', 'resource not found');
  }

  protected override badBody(_req: EmulatorRequest, message: string): EmulatorResponse {
    return mpError(400, 'bad_request', message);
  }

  protected override state(): Record<string, unknown> {
    return {
      webhookUrl: this.webhookUrl ?? null,
      payments: this.payments(),
      preferences: this.preferences(),
      idempotencyKeys: this.idempotencyKeysSeen(),
    };
  }

  protected override indexLinks(): string[] {
    return [...this.preferenceMap.values()].map((p) => `<a href="${escapeHtml(p.init_point)}">preference ${escapeHtml(p.id)}</a>`);
  }

  // ================================================================ helpers

  private run(fn: () => EmulatorResponse): EmulatorResponse {
    try {
      return fn();
    } catch (error) {
      if (error instanceof MpRequestError) return error.response;
      throw error;
    }
  }

  /**
   * X-Idempotency-Key: the first answer under a key on an endpoint is stored; the same key on the same
   * endpoint with the same body gets that answer again; with another body it is refused with 409
   * (Mercado Pago's status for an idempotency conflict; the SDK's MPIdempotencyError) and nothing happens.
   * Every key is recorded for idempotencyKeysSeen().
   */
  private idempotent(req: EmulatorRequest, fn: () => EmulatorResponse, required = false): EmulatorResponse {
    const key = headerValue(req.headers, 'x-idempotency-key');
    if (!key) {
      if (required) {
        return mpError(400, 'bad_request', "Header X-Idempotency-Key can't be null", [
          { code: 4292, description: "Header X-Idempotency-Key can't be null" },
        ]);
      }
      return this.run(fn);
    }
    const scope = `${req.method} ${req.path}\u0000${key}`;
    const body = canonicalJson(req.body);
    const stored = this.idempotencyStore.get(scope);
    if (stored) {
      const sameBody = stored.body === body;
      this.keysSeen.push({
        key,
        method: req.method,
        path: req.path,
        resourceId: resourceIdOf(stored.response),
        replayed: sameBody,
        sameBody,
        at: new Date(),
      });
      if (!sameBody) {
        return mpError(409, 'conflict', 'The X-Idempotency-Key was already used with a different request body.', [
          { code: 'idempotency_key_already_used', description: 'The X-Idempotency-Key was already used with a different request body.' },
        ]);
      }
      return json(stored.status, clone(stored.response));
    }
    const response = this.run(fn);
    const use: IdempotencyKeyUse = { key, method: req.method, path: req.path, replayed: false, sameBody: true, at: new Date() };
    if (response.status < 300) use.resourceId = resourceIdOf(response.body);
    this.keysSeen.push(use);
    // Validation errors are not kept; a corrected request may reuse the key.
    if (response.status < 400) this.idempotencyStore.set(scope, { body, status: response.status, response: clone(response.body) });
    return response;
  }

  private timestamp(): string {
    return this.timestampUnit === 'ms' ? String(Date.now()) : String(Math.floor(Date.now() / 1000));
  }

  private webhookHeaders(signature: string, requestId: string): Record<string, string> {
    return {
      'Content-Type': 'application/json',
      'x-signature': signature,
      'x-request-id': requestId,
      'User-Agent': 'MercadoPago WebHook v1.0 payment',
    };
  }

  /** Sends a webhook about `payment` to its notification_url, or else to the configured webhookUrl. */
  /**
   * The cardholder's bank disputes an approved payment: a chargeback (`new`, documentation due in 7 days)
   * and a `chargebacks` notification naming it. Resolves after the notification was delivered.
   */
  async createChargeback(paymentId: string | number, options: { reason?: string } = {}): Promise<Record<string, unknown>> {
    const payment = this.getPayment(String(paymentId));
    if (payment.status !== 'approved') throw new Error(`Payment ${payment.id} is ${payment.status}, not approved`);
    const chargeback = {
      id: `${payment.id}${Math.floor(Math.random() * 1_000_000)}`,
      payment_id: payment.id,
      status: 'new',
      amount: payment.transaction_amount,
      currency_id: payment.currency_id,
      reason: options.reason ?? 'fraud',
      date_created: isoNow(),
      last_modified: isoNow(),
      date_documentation_deadline: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    };
    this.chargebackMap.set(chargeback.id, chargeback);
    // Mercado Pago marks the payment: charged back, under dispute until the bank decides.
    payment.status = 'charged_back';
    payment.status_detail = 'in_process';
    payment.date_last_updated = isoNow();
    await this.notifyChargeback(chargeback.id, payment);
    return clone(chargeback);
  }

  /** The bank decides (`won`: Mercado Pago releases the amount); another `chargebacks` notification. */
  async closeChargeback(id: string, outcome: 'won' | 'lost'): Promise<Record<string, unknown>> {
    const chargeback = this.getChargeback(id);
    chargeback.status = outcome;
    chargeback.last_modified = isoNow();
    const payment = this.getPayment(String(chargeback.payment_id));
    // Won: the amount goes back to the seller (reimbursed); lost: it stays with the buyer (settled).
    payment.status_detail = outcome === 'won' ? 'reimbursed' : 'settled';
    payment.date_last_updated = isoNow();
    await this.notifyChargeback(id, payment);
    return clone(chargeback);
  }

  /** Mercado Pago notifies again about a chargeback (a new notification id, as for any later change). */
  resendChargeback(id: string): Promise<DeliveryRecord | undefined> {
    const chargeback = this.getChargeback(id);
    return this.notifyChargeback(id, this.getPayment(String(chargeback.payment_id)));
  }

  /** `GET /v1/chargebacks/search`: by `payment_id` (required; there is no date range), `status`, offset paging (limit 1..100). */
  private searchChargebacks(req: EmulatorRequest): EmulatorResponse {
    const q = req.search;
    const paymentId = q.get('payment_id');
    if (!paymentId) throw badRequest('payment_id is required', 400);
    const limit = q.has('limit') ? Number(q.get('limit')) : 30;
    const offset = q.has('offset') ? Number(q.get('offset')) : 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest('limit must be an integer between 1 and 100', 400);
    if (!Number.isInteger(offset) || offset < 0) throw badRequest('offset must be a positive integer', 400);
    const results = [...this.chargebackMap.values()].filter(
      (c) => String(c.payment_id) === paymentId && (!q.get('status') || c.status === q.get('status')),
    );
    return json(200, { paging: { total: results.length, limit, offset }, results: results.slice(offset, offset + limit).map(clone) });
  }

  private getChargeback(id: string): Record<string, unknown> {
    const chargeback = this.chargebackMap.get(id);
    if (!chargeback) throw new MpRequestError(mpError(404, 'not_found', 'Chargeback not found', []));
    return chargeback;
  }

  private notifyChargeback(id: string, payment: MercadoPagoPayment): Promise<DeliveryRecord | undefined> {
    const target = payment.notification_url ?? this.webhookUrl;
    if (!target || this.notificationsLost) return Promise.resolve(undefined);
    const url = new URL(target);
    url.searchParams.set('data.id', id);
    url.searchParams.set('type', 'chargebacks');
    const body = JSON.stringify({
      action: 'chargebacks.updated',
      api_version: 'v1',
      data: { id },
      date_created: isoNow(),
      id: this.nextNotificationId++,
      live_mode: false,
      type: 'chargebacks',
      user_id: this.collectorId,
    });
    const requestId = randomUUID();
    const signature = this.sign(id, requestId, this.timestamp(), this.webhookSecret);
    return this.deliver({ kind: 'webhook', subjectId: id, url: url.toString(), headers: this.webhookHeaders(signature, requestId), body });
  }

  private notify(payment: MercadoPagoPayment, action: string, secret?: string): Promise<DeliveryRecord | undefined> {
    const target = payment.notification_url ?? this.webhookUrl;
    if (!target || this.notificationsLost) return Promise.resolve(undefined);
    const url = new URL(target);
    url.searchParams.set('data.id', String(payment.id));
    url.searchParams.set('type', 'payment');
    const id = this.nextNotificationId++;
    const body = JSON.stringify({
      action,
      api_version: 'v1',
      data: { id: String(payment.id) },
      date_created: isoNow(),
      id,
      live_mode: false,
      type: 'payment',
      user_id: this.collectorId,
    });
    const requestId = randomUUID();
    const signature = this.sign(String(payment.id), requestId, this.timestamp(), secret ?? this.webhookSecret);
    this.notificationMap.set(id, { id, action, paymentId: payment.id, url: url.toString(), body, requestId, signature });
    return this.deliver({
      kind: 'webhook',
      subjectId: String(id),
      url: url.toString(),
      headers: this.webhookHeaders(signature, requestId),
      body,
    });
  }

  // ================================================================ card tokens

  private createCardToken(req: EmulatorRequest): EmulatorResponse {
    const body = asRecord(req.body) ?? {};
    if (body.card_id !== undefined) return this.savedCardToken(body);
    const number = (asString(body.card_number) ?? '').replace(/\s/g, '');
    if (!/^\d{13,19}$/.test(number)) throw badRequest('invalid parameter card_number', 'E205');
    const month = Number(asString(body.expiration_month));
    const year = Number(asString(body.expiration_year));
    if (!Number.isInteger(month) || month < 1 || month > 12) throw badRequest('invalid parameter expiration_month', 'E301');
    if (!Number.isInteger(year) || year < 2000) throw badRequest('invalid parameter expiration_year', 'E302');
    const cvc = asString(body.security_code) ?? '';
    if (!/^\d{3,4}$/.test(cvc)) throw badRequest('invalid parameter security_code', 'E203');
    const cardholder = asRecord(body.cardholder) ?? {};
    const name = (asString(cardholder.name) ?? '').trim();
    if (!name) throw badRequest('invalid parameter cardholder.name', 221);
    const id = randomBytes(16).toString('hex');
    const token: CardToken = {
      id,
      cardholderName: name,
      firstSix: number.slice(0, 6),
      lastFour: number.slice(-4),
      expirationMonth: month,
      expirationYear: year,
      used: false,
      body: {},
    };
    const created = isoNow();
    token.body = {
      id,
      public_key: null,
      first_six_digits: token.firstSix,
      last_four_digits: token.lastFour,
      expiration_month: month,
      expiration_year: year,
      cardholder: { name, identification: asRecord(cardholder.identification) ?? {} },
      status: 'active',
      date_created: created,
      date_last_updated: created,
      date_due: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      luhn_validation: true,
      live_mode: false,
      require_esc: false,
      card_number_length: number.length,
      security_code_length: cvc.length,
    };
    this.tokens.set(id, token);
    return json(201, clone(token.body));
  }

  /** A token for a saved card (`card_id`): the card's data, one use, for its customer only. */
  private savedCardToken(body: Json): EmulatorResponse {
    const saved = this.customerApi.tokenForCard(body);
    const id = randomBytes(16).toString('hex');
    const created = isoNow();
    const token: CardToken = {
      ...saved,
      id,
      body: {
        id,
        card_id: saved.cardId,
        public_key: null,
        first_six_digits: saved.firstSix,
        last_four_digits: saved.lastFour,
        expiration_month: saved.expirationMonth,
        expiration_year: saved.expirationYear,
        cardholder: { name: saved.cardholderName },
        status: 'active',
        date_created: created,
        date_last_updated: created,
        date_due: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        luhn_validation: true,
        live_mode: false,
        require_esc: false,
      },
    };
    this.tokens.set(id, token);
    return json(201, clone(token.body));
  }

  private getCardToken(id: string): EmulatorResponse {
    const token = this.tokens.get(id);
    if (!token) return mpError(404, 'not_found', 'Card Token not found', [{ code: 2006, description: 'Card Token not found' }]);
    return json(200, clone({ ...token.body, status: token.used ? 'used' : 'active' }));
  }

  // ================================================================ payments

  private createPayment(req: EmulatorRequest): EmulatorResponse {
    const body = asRecord(req.body) ?? {};
    const amount = body.transaction_amount;
    if (amount === undefined || amount === null) throw badRequest("transaction_amount attribute can't be null", 4020);
    if (typeof amount !== 'number' || !Number.isFinite(amount)) throw badRequest('transaction_amount attribute must be numeric', 4037);
    if (amount <= 0) throw badRequest('transaction_amount must be positive', 4049);
    if (Math.abs(toCents(amount) - amount * 100) > 1e-6) throw badRequest('transaction_amount must have at most two decimals', 4037);
    const paymentMethodId = asString(body.payment_method_id);
    if (!paymentMethodId) throw badRequest("payment_method_id attribute can't be null", 4033);
    // A saved card's token pays only for its customer (payer.type customer); the customer's email is the payer's.
    const payer = this.customerApi.payerFor(asRecord(body.payer) ?? {}, this.tokens.get(asString(body.token) ?? ''));
    const email = asString(payer.email);
    if (!email || !/^[^@\s]+@[^@\s]+$/.test(email)) throw badRequest('payer.email must be a valid email', 4050);
    const installments = body.installments === undefined ? 1 : Number(body.installments);
    if (!Number.isInteger(installments) || installments < 1) throw badRequest('installments attribute must be a positive integer', 4031);
    const metadata = asRecord(body.metadata) ?? {};
    const common = {
      amountCents: toCents(amount),
      currencyId: this.currencyId,
      description: asString(body.description) ?? null,
      paymentMethodId,
      installments,
      payer: { ...payer, email },
      externalReference: asString(body.external_reference) ?? null,
      metadata,
      notificationUrl: asString(body.notification_url) ?? null,
      statementDescriptor: asString(body.statement_descriptor) ?? null,
      binaryMode: body.binary_mode === true,
    };

    let payment: MercadoPagoPayment;
    if (paymentMethodId === 'pix') {
      payment = this.newPayment({
        ...common,
        paymentTypeId: 'bank_transfer',
        outcome: { status: 'pending', detail: 'pending_waiting_transfer' },
        card: {},
      });
      const qr = `00020126580014br.gov.bcb.pix0136${randomUUID()}5204000053039865802BR5913EMULATOR6009SAO PAULO62070503***6304ABCD`;
      payment.point_of_interaction = {
        type: 'PIX',
        transaction_data: {
          qr_code: qr,
          qr_code_base64: Buffer.from(qr).toString('base64'),
          ticket_url: `${this.url}/_emulator/payments/${payment.id}`,
        },
      };
    } else {
      const paymentTypeId = CARD_METHODS[paymentMethodId];
      if (!paymentTypeId) throw badRequest(`Invalid payment_method_id: ${paymentMethodId}`, 4033);
      const tokenId = asString(body.token);
      if (!tokenId) throw badRequest("token attribute can't be null for card payments", 2006);
      const token = this.tokens.get(tokenId);
      if (!token || token.used) throw badRequest('Invalid card_token_id', 3003);
      token.used = true;
      let outcome = CARDHOLDER_OUTCOMES[token.cardholderName.toUpperCase()] ?? CARDHOLDER_OUTCOMES.APRO;
      // binary_mode: no pending states, the payment is approved or rejected at once.
      if (common.binaryMode && outcome.status === 'in_process') outcome = { status: 'rejected', detail: 'cc_rejected_other_reason' };
      payment = this.newPayment({
        ...common,
        paymentTypeId,
        outcome,
        card: {
          first_six_digits: token.firstSix,
          last_four_digits: token.lastFour,
          expiration_month: token.expirationMonth,
          expiration_year: token.expirationYear,
          cardholder: { name: token.cardholderName },
        },
      });
    }
    this.notify(payment, 'payment.created');
    // Mercado Pago answers 201 for every payment it created, rejected ones included.
    return json(201, clone(payment));
  }

  private newPayment(input: {
    amountCents: number;
    currencyId: string;
    description: string | null;
    paymentMethodId: string;
    paymentTypeId: string;
    installments: number;
    payer: Json;
    externalReference: string | null;
    metadata: Json;
    notificationUrl: string | null;
    statementDescriptor: string | null;
    binaryMode: boolean;
    outcome: { status: MercadoPagoPaymentStatus; detail: string };
    card: Json;
  }): MercadoPagoPayment {
    const created = isoNow();
    const approved = input.outcome.status === 'approved';
    const amount = fromCents(input.amountCents);
    const payment: MercadoPagoPayment = {
      id: this.nextPaymentId++,
      date_created: created,
      date_approved: approved ? created : null,
      date_last_updated: created,
      money_release_date: approved ? created : null,
      operation_type: 'regular_payment',
      payment_method_id: input.paymentMethodId,
      payment_type_id: input.paymentTypeId,
      status: input.outcome.status,
      status_detail: input.outcome.detail,
      currency_id: input.currencyId,
      description: input.description,
      live_mode: false,
      collector_id: this.collectorId,
      payer: { id: String(100_000_000 + Math.floor(Math.random() * 900_000_000)), type: null, ...input.payer },
      metadata: input.metadata,
      external_reference: input.externalReference,
      transaction_amount: amount,
      transaction_amount_refunded: 0,
      installments: input.installments,
      transaction_details: {
        net_received_amount: approved ? amount : 0,
        total_paid_amount: amount,
        installment_amount: fromCents(Math.round(input.amountCents / input.installments)),
        overpaid_amount: 0,
        external_resource_url: null,
        financial_institution: null,
        payment_method_reference_id: null,
      },
      captured: true,
      binary_mode: input.binaryMode,
      notification_url: input.notificationUrl,
      statement_descriptor: input.statementDescriptor,
      refunds: [],
      card: input.card,
      order: {},
      point_of_interaction: {},
      fee_details: [],
    };
    this.paymentMap.set(payment.id, payment);
    return payment;
  }

  private getPayment(id: string): MercadoPagoPayment {
    const payment = this.paymentMap.get(Number(id));
    if (!payment)
      throw new MpRequestError(mpError(404, 'not_found', 'Payment not found', [{ code: 2000, description: 'Payment not found' }]));
    return payment;
  }

  /** PUT /v1/payments/:id: only `status: cancelled` for a payment still pending/in_process. */
  private updatePayment(req: EmulatorRequest): EmulatorResponse {
    const payment = this.getPayment(req.params.id);
    const body = asRecord(req.body) ?? {};
    if (body.status === 'cancelled') {
      if (payment.status !== 'pending' && payment.status !== 'in_process') {
        throw badRequest('The action requested is not valid for the current payment state', 2063);
      }
      payment.status = 'cancelled';
      payment.status_detail = 'by_collector';
      payment.date_last_updated = isoNow();
      this.notify(payment, 'payment.updated');
      return json(200, clone(payment));
    }
    if (body.metadata !== undefined) payment.metadata = asRecord(body.metadata) ?? {};
    return json(200, clone(payment));
  }

  /**
   * `GET /v1/payments/search`: filters (external_reference, status, id), a date range on `range`
   * (begin_date and end_date, both inclusive, ISO or NOW-relative), `sort` and `criteria`, and offset
   * paging: `limit` 1..1000 and offset + limit at most SEARCH_MAX_DEPTH, as deep as the search pages.
   */
  private searchPayments(req: EmulatorRequest): EmulatorResponse {
    const q = req.search;
    const limit = q.has('limit') ? Number(q.get('limit')) : 30;
    const offset = q.has('offset') ? Number(q.get('offset')) : 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be an integer between 1 and 1000', 400);
    if (!Number.isInteger(offset) || offset < 0) throw badRequest('offset must be a positive integer', 400);
    if (offset + limit > SEARCH_MAX_DEPTH)
      throw badRequest(`offset + limit must not exceed ${SEARCH_MAX_DEPTH}; narrow the date range`, 400);
    const range = q.get('range') ?? 'date_created';
    if (!SEARCH_DATE_FIELDS.includes(range)) throw badRequest(`range must be one of ${SEARCH_DATE_FIELDS.join(', ')}`, 400);
    const begin = parseSearchDate(q.get('begin_date'));
    const end = parseSearchDate(q.get('end_date'));
    if ((q.get('begin_date') && begin === undefined) || (q.get('end_date') && end === undefined))
      throw badRequest('begin_date and end_date must be ISO 8601 dates or NOW-relative', 400);
    const sort = q.get('sort') ?? 'date_created';
    if (!SEARCH_DATE_FIELDS.includes(sort)) throw badRequest(`sort must be one of ${SEARCH_DATE_FIELDS.join(', ')}`, 400);
    const rangeField = range as 'date_created';
    const sortField = sort as 'date_created';
    let results = [...this.paymentMap.values()].filter((p) => {
      if (q.get('external_reference') && p.external_reference !== q.get('external_reference')) return false;
      if (q.get('status') && p.status !== q.get('status')) return false;
      if (q.get('id') && String(p.id) !== q.get('id')) return false;
      const value = p[rangeField];
      if ((begin || end) && !value) return false;
      const time = value ? Date.parse(value) : 0;
      return (!begin || time >= begin) && (!end || time <= end);
    });
    const criteria = q.get('criteria') === 'asc' ? 1 : -1;
    const at = (p: MercadoPagoPayment) => (p[sortField] ? Date.parse(p[sortField]) : 0);
    results = results.sort((a, b) => criteria * (at(a) - at(b) || a.id - b.id));
    return json(200, { paging: { total: results.length, limit, offset }, results: results.slice(offset, offset + limit).map(clone) });
  }

  // ================================================================ refunds

  private createRefund(req: EmulatorRequest): EmulatorResponse {
    const payment = this.getPayment(req.params.id);
    const body = asRecord(req.body) ?? {};
    if (payment.status !== 'approved') throw badRequest('The action requested is not valid for the current payment state', 2063);
    const inProcess = payment.refunds.filter((r) => r.status === 'in_process').reduce((sum, r) => sum + toCents(r.amount), 0);
    const remaining = toCents(payment.transaction_amount) - toCents(payment.transaction_amount_refunded) - inProcess;
    let cents = remaining;
    if (body.amount !== undefined && body.amount !== null) {
      if (typeof body.amount !== 'number' || !Number.isFinite(body.amount)) throw badRequest('Amount should be a number', 4041);
      if (body.amount <= 0) throw badRequest('Amount should be more than 0', 4040);
      cents = toCents(body.amount);
    }
    if (cents > remaining) throw badRequest('Invalid refund amount: greater than the amount available to refund', 4040);
    const refund: MercadoPagoRefund = {
      id: this.nextRefundId++,
      payment_id: payment.id,
      amount: fromCents(cents),
      metadata: asRecord(body.metadata) ?? {},
      source: { id: String(this.collectorId), name: 'Emulator Seller', type: 'collector' },
      date_created: isoNow(),
      unique_sequence_number: null,
      refund_mode: 'standard',
      adjustment_amount: 0,
      status: this.refundsToHold > 0 ? 'in_process' : 'approved',
      reason: null,
      labels: [],
      partition_details: [],
    };
    payment.refunds.push(refund);
    if (refund.status === 'in_process') {
      // Held: not refunded on the payment until it is approved (settleRefund), nor refundable twice.
      this.refundsToHold--;
      return json(201, clone(refund));
    }
    this.applyRefund(payment, cents);
    this.notify(payment, 'payment.updated');
    return json(201, clone(refund));
  }

  /** Books an approved refund on its payment: refunded in full, or partially_refunded. */
  private applyRefund(payment: MercadoPagoPayment, cents: number): void {
    payment.transaction_amount_refunded = fromCents(toCents(payment.transaction_amount_refunded) + cents);
    if (payment.transaction_amount_refunded >= payment.transaction_amount) {
      payment.status = 'refunded';
      payment.status_detail = 'refunded';
    } else {
      payment.status_detail = 'partially_refunded';
    }
    payment.date_last_updated = isoNow();
  }

  private async settleRefundRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const outcome = asRecord(req.body)?.status === 'rejected' ? 'rejected' : 'approved';
    try {
      return json(200, await this.settleRefund(Number(req.params.id), Number(req.params.refundId), outcome));
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private getRefund(req: EmulatorRequest): EmulatorResponse {
    const refund = this.getPayment(req.params.id).refunds.find((r) => String(r.id) === req.params.refundId);
    if (!refund) return mpError(404, 'not_found', 'Refund not found', [{ code: 2032, description: 'Refund not found' }]);
    return json(200, clone(refund));
  }

  // ================================================================ preferences (Checkout Pro)

  private createPreference(req: EmulatorRequest): EmulatorResponse {
    const body = asRecord(req.body) ?? {};
    const rawItems = Array.isArray(body.items) ? body.items : [];
    if (rawItems.length === 0) throw badRequest('items must not be empty', 'invalid_items');
    const items = rawItems.map((raw, i) => {
      const item = asRecord(raw) ?? {};
      const title = asString(item.title);
      if (!title) throw badRequest(`items[${i}].title must not be empty`, 'invalid_items');
      if (typeof item.unit_price !== 'number' || item.unit_price <= 0)
        throw badRequest(`items[${i}].unit_price must be a positive number`, 'invalid_unit_price');
      if (typeof item.quantity !== 'number' || !Number.isInteger(item.quantity) || item.quantity < 1) {
        throw badRequest(`items[${i}].quantity must be a positive integer`, 'invalid_quantity');
      }
      return { ...item, title, currency_id: asString(item.currency_id) ?? this.currencyId };
    });
    if (new Set(items.map((i) => i.currency_id)).size > 1) throw badRequest('all items must have the same currency_id', 'invalid_items');
    const backUrls = (asRecord(body.back_urls) ?? {}) as MercadoPagoPreference['back_urls'];
    const autoReturn = asString(body.auto_return) ?? '';
    if (autoReturn && !backUrls.success) throw badRequest('auto_return invalid. back_url.success must be defined', 'invalid_auto_return');
    const id = `${this.collectorId}-${randomUUID()}`;
    const pref: MercadoPagoPreference = {
      id,
      init_point: `${this.url}/checkout/v1/redirect?pref_id=${id}`,
      sandbox_init_point: `${this.url}/checkout/v1/redirect?pref_id=${id}&sandbox=true`,
      items,
      payer: asRecord(body.payer) ?? {},
      back_urls: backUrls,
      auto_return: autoReturn,
      external_reference: asString(body.external_reference) ?? '',
      notification_url: asString(body.notification_url) ?? null,
      metadata: asRecord(body.metadata) ?? {},
      collector_id: this.collectorId,
      client_id: String(this.collectorId).slice(0, 10),
      date_created: isoNow(),
      operation_type: 'regular_payment',
      marketplace: 'NONE',
      expires: body.expires === true,
      statement_descriptor: asString(body.statement_descriptor) ?? null,
    };
    this.preferenceMap.set(id, pref);
    return json(201, clone(pref));
  }

  private getPreference(id: string): MercadoPagoPreference {
    const pref = this.preferenceMap.get(id);
    if (!pref) throw new MpRequestError(mpError(404, 'not_found', `Preference ${id} not found`));
    return pref;
  }

  private checkoutPage(req: EmulatorRequest): EmulatorResponse {
    const id = req.search.get('pref_id') ?? '';
    const pref = this.preferenceMap.get(id);
    if (!pref) return html(404, 'Mercado Pago', `<p>Preference ${escapeHtml(id)} not found</p>`);
    const total = pref.items.reduce((sum, item) => sum + toCents(Number(item.unit_price)) * Number(item.quantity), 0);
    const rows = pref.items
      .map(
        (item) =>
          `<li>${escapeHtml(item.title)} × ${escapeHtml(item.quantity)}: ${escapeHtml(item.unit_price)} ${escapeHtml(item.currency_id)}</li>`,
      )
      .join('');
    const names = Object.keys(CARDHOLDER_OUTCOMES)
      .map((n) => `<option>${n}</option>`)
      .join('');
    return html(
      200,
      'Mercado Pago Checkout Pro (emulator)',
      [
        `<p>Preference <code>${escapeHtml(id)}</code></p><ul>${rows}</ul><p><strong>Total ${fromCents(total).toFixed(2)}</strong></p>`,
        `<div class="box"><form method="post" action="/_emulator/preferences/${escapeHtml(id)}/pay">`,
        `Cardholder name <select name="cardholder_name">${names}</select> `,
        `Email <input name="email" value="${escapeHtml(asString(pref.payer.email) ?? 'test_user@testuser.com')}"> <button>Pay</button></form></div>`,
      ].join(''),
    );
  }

  private async payRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const body = asRecord(req.body) ?? {};
    const pref = this.preferenceMap.get(req.params.id);
    if (!pref) return html(404, 'Mercado Pago', '<p>Preference not found</p>');
    const payment = await this.payPreference(pref.id, { cardholderName: asString(body.cardholder_name), email: asString(body.email) });
    const target =
      payment.status === 'approved'
        ? pref.back_urls.success
        : payment.status === 'rejected'
          ? pref.back_urls.failure
          : pref.back_urls.pending;
    if (!target)
      return html(
        200,
        'Mercado Pago',
        `<p>Payment ${payment.id}: ${escapeHtml(payment.status)} (${escapeHtml(payment.status_detail)})</p>`,
      );
    const url = new URL(target);
    const params: Record<string, string> = {
      collection_id: String(payment.id),
      collection_status: payment.status,
      payment_id: String(payment.id),
      status: payment.status,
      external_reference: payment.external_reference ?? 'null',
      payment_type: payment.payment_type_id,
      merchant_order_id: String(payment.order.id ?? ''),
      preference_id: pref.id,
      site_id: 'MLB',
      processing_mode: 'aggregator',
      merchant_account_id: 'null',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return redirect(url.toString());
  }

  private async settleRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const status = asString(asRecord(req.body)?.status) === 'rejected' ? 'rejected' : 'approved';
    try {
      return json(200, await this.settlePayment(Number(req.params.id), status));
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async resendRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    try {
      return json(
        200,
        await this.resend(Number(req.params.id), { sameSignature: asString(asRecord(req.body)?.same_signature) === 'true' }),
      );
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** The date fields the payments search ranges and sorts on. */
const SEARCH_DATE_FIELDS = ['date_created', 'date_approved', 'date_last_updated', 'money_release_date'];
/** How deep the payments search pages: offset + limit. */
export const SEARCH_MAX_DEPTH = 10_000;

function resourceIdOf(body: unknown): string | undefined {
  const id = asRecord(body)?.id;
  return id === undefined ? undefined : String(id);
}

/** ISO dates, or Mercado Pago's relative `NOW`, `NOW-30DAYS`, `NOW-2HOURS` forms. */
function parseSearchDate(value: string | null): number | undefined {
  if (!value) return undefined;
  const relative = /^NOW(?:-(\d+)(DAYS|HOURS|MINUTES))?$/i.exec(value);
  if (relative) {
    const units: Record<string, number> = { DAYS: 86_400_000, HOURS: 3_600_000, MINUTES: 60_000 };
    return Date.now() - (relative[1] ? Number(relative[1]) * units[relative[2].toUpperCase()] : 0);
  }
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Points the mercadopago SDK (v3) at an emulator. The SDK has no option for its base URL: every call
 * builds `${AppConfig.BASE_URL}${path}` from a static, `readonly`-typed field, so it is overwritten here.
 * Process-wide (jest: per test file). Returns a function that restores the previous value.
 */
export function pointMercadoPagoSdkAt(baseUrl: string): () => void {
  const config = AppConfig as { BASE_URL: string };
  const previous = config.BASE_URL;
  config.BASE_URL = baseUrl.replace(/\/+$/, '');
  return () => {
    config.BASE_URL = previous;
  };
}
