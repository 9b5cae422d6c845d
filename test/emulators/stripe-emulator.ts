// Over 400 lines on purpose: it mirrors Stripe's API surface and its state in one place, so each strictness
// check sits next to the state it guards (parameter parsing is already apart, in stripe-params.ts).
import { createHmac } from 'node:crypto';
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
  randomId,
  redirect,
} from './emulator-server';
import {
  addInterval,
  clone,
  formatAmount,
  formBody,
  invalid,
  Json,
  LineItem,
  Metadata,
  MINIMUM_AMOUNTS,
  missingParam,
  noSuch,
  now,
  Params,
  rejectUnknownParams,
  StripeCharge,
  StripeCheckoutSession,
  StripeEvent,
  StripePaymentIntent,
  StripePrice,
  StripeRefund,
  StripeRequestError,
  offSessionAuthentication,
  offSessionParam,
  PAYMENT_METHOD_SPENT,
  TEST_PAYMENT_METHODS,
  TestCard,
} from './stripe-emulator-support';
import { BillingOptions, StripeBilling } from './stripe-emulator-billing';

export type {
  PaymentIntentStatus,
  StripeCharge,
  StripeCheckoutSession,
  StripeEvent,
  StripePaymentIntent,
  StripeRefund,
} from './stripe-emulator-support';
import { StripeBalance, type StripeBalanceOptions } from './stripe-balance';

/**
 * Stripe emulator: PaymentIntents, Refunds, Checkout Sessions (payment and subscription mode), and the
 * few objects around them (PaymentMethods from Stripe's test tokens, Customers, Products, Prices,
 * Subscriptions, Events), spoken in Stripe's wire format (form-encoded requests, JSON answers, Stripe's
 * error objects, Idempotency-Key semantics) and webhooks signed like Stripe's. See README.md.
 */

export interface StripeEmulatorOptions {
  /** Secret used to sign webhooks (`whsec_…`); the whole string is the HMAC key, as at Stripe. */
  webhookSecret: string;
  /** Where webhook events are POSTed; settable later with `webhookUrl = …`. No URL: events are recorded, not sent. */
  webhookUrl?: string;
  /** When set, only this secret key is accepted; otherwise any `sk_test_…`/`rk_test_…` key. */
  apiKey?: string;
  /** `api_version` written into events (default: the version the SDK in node_modules pins). */
  apiVersion?: string;
  /** Stripe Billing's retry schedule and final action (stripe-emulator-billing.ts). */
  billing?: BillingOptions;
  /** Fees and availability of balance transactions (default: 2.9% + 30, available 2 days later). */
  balance?: StripeBalanceOptions;
}

const DEFAULT_API_VERSION = '2026-10-28.endive';

interface IdempotencyEntry {
  fingerprint: string;
  path: string;
  status: number;
  body: unknown;
  requestId: string;
}

interface ConfirmOutcome {
  response: EmulatorResponse;
  events: Promise<DeliveryRecord | undefined>[];
}

export class StripeEmulator extends EmulatorServer {
  /** Where webhook events are POSTed. */
  webhookUrl?: string;
  readonly webhookSecret: string;
  readonly apiVersion: string;
  private readonly apiKey?: string;

  private readonly intents = new Map<string, StripePaymentIntent>();
  private readonly intentReturnUrls = new Map<string, string>();
  private readonly chargeMap = new Map<string, StripeCharge>();
  private readonly refundMap = new Map<string, StripeRefund>();
  private readonly sessions = new Map<string, StripeCheckoutSession>();
  private readonly sessionLineItems = new Map<string, LineItem[]>();
  private readonly sessionExtras = new Map<string, { paymentIntentData: Params | undefined; subscriptionMetadata: Metadata }>();
  private readonly paymentMethods = new Map<string, Json>();
  private readonly paymentMethodCards = new Map<string, TestCard>();
  /** PaymentMethods used once without a Customer, or detached: Stripe refuses them from then on. */
  private readonly spentMethods = new Set<string>();
  private readonly customerMap = new Map<string, Json>();
  private readonly productMap = new Map<string, Json>();
  private readonly priceMap = new Map<string, StripePrice>();
  private readonly subscriptionMap = new Map<string, Json>();
  private readonly invoiceMap = new Map<string, Json>();
  private readonly disputeMap = new Map<string, Json>();
  private readonly eventMap = new Map<string, StripeEvent>();
  private readonly eventPayloads = new Map<string, { payload: string; signature: string }>();
  private readonly idempotency = new Map<string, IdempotencyEntry>();
  private refundsToHold = 0;
  /** Subscriptions, invoices and test clocks (stripe-emulator-billing.ts). */
  private readonly billing: StripeBilling;
  /** Balance transactions of charges and refunds (fee, net, available_on, status). */
  readonly balance: StripeBalance;

  constructor(options: StripeEmulatorOptions) {
    super('Stripe');
    this.webhookSecret = options.webhookSecret;
    this.webhookUrl = options.webhookUrl;
    this.apiKey = options.apiKey;
    this.apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
    this.balance = new StripeBalance(options.balance);

    const api = { auth: true };
    const money = { auth: true, money: true };
    this.billing = new StripeBilling(
      {
        customers: this.customerMap,
        subscriptions: this.subscriptionMap,
        invoices: this.invoiceMap,
        price: (id, param) => {
          const price = this.priceMap.get(id);
          if (!price) throw noSuch('price', id, param);
          return price;
        },
        attachedMethod: (customer, pmId, param) => this.attachedMethod(customer, pmId, param),
        chargeOffSession: (input) => this.chargeOffSession(input),
        emit: (type, object, previous) => this.emit(type, object, previous),
        get: (pattern, handler) => this.get(pattern, handler),
        post: (pattern, handler, options) => this.post(pattern, handler, options),
        delete: (pattern, handler) => this.delete(pattern, handler),
        postAsync: (pattern, handler) => this.postAsync(pattern, handler),
        respond: (req, body, expand = []) => json(200, this.expand(clone(body), expand), this.commonHeaders(req)),
        list: (req, p, url, items) => this.list(req, p, url, items),
      },
      options.billing,
    );
    this.post('/v1/payment_intents', (req, p) => this.createPaymentIntent(req, p), money);
    this.get('/v1/payment_intents', (req, p) => this.list(req, p, '/v1/payment_intents', this.filterIntents(p)));
    this.get('/v1/payment_intents/:id', (req, p) => this.retrieve(req, p, this.getIntent(req.params.id)));
    this.post('/v1/payment_intents/:id', (req, p) => this.updatePaymentIntent(req, p), api);
    this.post('/v1/payment_intents/:id/confirm', (req, p) => this.confirmPaymentIntent(req, p), money);
    this.post('/v1/payment_intents/:id/capture', (req, p) => this.capturePaymentIntent(req, p), money);
    this.post('/v1/payment_intents/:id/cancel', (req, p) => this.cancelPaymentIntent(req, p), api);
    this.get('/v1/payment_methods/:id', (req, p) => this.retrieve(req, p, this.getPaymentMethod(req.params.id)));
    this.post('/v1/payment_methods/:id/attach', (req, p) => this.attachPaymentMethod(req, p), api);
    this.post('/v1/payment_methods/:id/detach', (req, p) => this.detachPaymentMethod(req, p), api);
    this.get('/v1/charges', (req, p) => this.list(req, p, '/v1/charges', this.filterCharges(p)));
    this.get('/v1/charges/:id', (req, p) => this.retrieve(req, p, this.getCharge(req.params.id)));
    this.get('/v1/balance_transactions/:id', (req, p) => this.retrieve(req, p, this.getBalanceTransaction(req.params.id)));
    this.post('/v1/refunds', (req, p) => this.createRefund(req, p), money);
    this.get('/v1/refunds', (req, p) => this.list(req, p, '/v1/refunds', this.filterRefunds(p)));
    this.get('/v1/refunds/:id', (req, p) => this.retrieve(req, p, this.getRefund(req.params.id)));
    this.post('/v1/checkout/sessions', (req, p) => this.createCheckoutSession(req, p), money);
    this.get('/v1/checkout/sessions', (req, p) => this.list(req, p, '/v1/checkout/sessions', this.filterSessions(p)));
    this.get('/v1/checkout/sessions/:id', (req, p) => this.retrieve(req, p, this.getSession(req.params.id)));
    this.get('/v1/checkout/sessions/:id/line_items', (req, p) =>
      this.list(req, p, `/v1/checkout/sessions/${req.params.id}/line_items`, this.sessionItems(req.params.id)),
    );
    this.post('/v1/checkout/sessions/:id/expire', (req) => this.expireSessionRoute(req), api);
    this.post('/v1/customers', (req, p) => this.createCustomer(req, p), api);
    this.get('/v1/customers/:id', (req, p) => this.retrieve(req, p, this.getCustomer(req.params.id)));
    this.get('/v1/customers/:id/payment_methods', (req, p) =>
      this.list(req, p, `/v1/customers/${req.params.id}/payment_methods`, this.customerPaymentMethods(req.params.id, p)),
    );
    this.post('/v1/products', (req, p) => this.createProduct(req, p), api);
    this.get('/v1/products/:id', (req, p) => this.retrieve(req, p, this.getProduct(req.params.id)));
    this.post('/v1/prices', (req, p) => this.createPrice(req, p), api);
    this.get('/v1/prices/:id', (req, p) => this.retrieve(req, p, this.getPrice(req.params.id)));
    this.get('/v1/subscriptions/:id', (req, p) => this.retrieve(req, p, this.getSubscription(req.params.id)));
    this.delete('/v1/subscriptions/:id', (req) => this.cancelSubscriptionRoute(req));
    this.get('/v1/invoices/:id', (req, p) => this.retrieve(req, p, this.getInvoice(req.params.id)));
    this.get('/v1/disputes', (req, p) => this.list(req, p, '/v1/disputes', this.filterDisputes(p)));
    this.get('/v1/disputes/:id', (req, p) => this.retrieve(req, p, this.getDispute(req.params.id)));
    this.post('/v1/disputes/:id', (req, p) => this.updateDispute(req, p), api);
    this.get('/v1/events', (req, p) => this.list(req, p, '/v1/events', this.filterEvents(p)));
    this.get('/v1/events/:id', (req, p) => this.retrieve(req, p, this.getEvent(req.params.id)));

    // Hosted pages and emulator control (no API key, as a browser would call them).
    this.route('GET', '/c/pay/:id', (req) => this.checkoutPage(req.params.id));
    this.route('POST', '/_emulator/checkout/sessions/:id/pay', (req) => this.payRoute(req));
    this.route('POST', '/_emulator/checkout/sessions/:id/cancel', (req) => this.cancelCheckoutRoute(req));
    this.route('POST', '/_emulator/checkout/sessions/:id/expire', (req) => this.controlExpireRoute(req));
    this.route('GET', '/_emulator/3ds/:id', (req) => this.threeDSecurePage(req.params.id));
    this.route('POST', '/_emulator/payment_intents/:id/3ds', (req) => this.threeDSecureRoute(req));
    this.route('POST', '/_emulator/subscriptions/:id/renew', (req) => this.renewRoute(req));
    this.route('POST', '/_emulator/refunds/hold', (req) => {
      this.holdNextRefunds(Number(asString(asRecord(req.body)?.count) ?? 1));
      return json(200, { held: this.refundsToHold });
    });
    this.route('POST', '/_emulator/refunds/:id/settle', (req) => this.settleRefundRoute(req));
    this.route('POST', '/_emulator/balance_transactions/:id/available', (req) =>
      json(200, clone(this.balance.makeAvailable(req.params.id))),
    );
    this.route('POST', '/_emulator/events/:id/resend', (req) => this.resendRoute(req));
    this.route('POST', '/_emulator/charges/:id/dispute', async (req) => json(200, await this.createDispute(req.params.id)));
    this.route('POST', '/_emulator/disputes/:id/withdraw', async (req) => json(200, await this.withdrawDisputeFunds(req.params.id)));
    this.route('POST', '/_emulator/disputes/:id/close', async (req) =>
      json(200, await this.closeDispute(req.params.id, asString(asRecord(req.body)?.outcome) === 'lost' ? 'lost' : 'won')),
    );
    this.route('POST', '/_emulator/events', (req) => this.sendEventRoute(req));
    this.route('POST', '/_emulator/webhook-url', (req) => {
      this.webhookUrl = asString(asRecord(req.body)?.url) || undefined;
      return json(200, { webhookUrl: this.webhookUrl ?? null });
    });
  }

  // ================================================================ accessors for tests

  paymentIntents(): StripePaymentIntent[] {
    return [...this.intents.values()].map(clone);
  }

  /** One entry per card charge that went through (succeeded, or authorized with capture_method=manual); declines are not charges here. */
  charges(): StripeCharge[] {
    return [...this.chargeMap.values()].filter((c) => c.status !== 'failed').map(clone);
  }

  /** Changes a PaymentIntent's amount (and its charge's) in Stripe's records: a discrepancy planted for reconciliation. */
  setIntentAmount(id: string, amount: number): void {
    const intent = this.getIntent(id);
    intent.amount = amount;
    intent.amount_received = amount;
    for (const charge of this.chargeMap.values()) if (charge.payment_intent === id) charge.amount = amount;
  }

  /** Stripe loses a PaymentIntent and its charges (a payment of ours that the provider does not know). */
  forgetPaymentIntent(id: string): void {
    this.getIntent(id);
    this.intents.delete(id);
    for (const [chargeId, charge] of this.chargeMap) if (charge.payment_intent === id) this.chargeMap.delete(chargeId);
  }

  /** Charges that the card issuer declined (Stripe keeps them as `status: failed`). */
  failedCharges(): StripeCharge[] {
    return [...this.chargeMap.values()].filter((c) => c.status === 'failed').map(clone);
  }

  refunds(): StripeRefund[] {
    return [...this.refundMap.values()].map(clone);
  }

  checkoutSessions(): StripeCheckoutSession[] {
    return [...this.sessions.values()].map(clone);
  }

  subscriptions(): Json[] {
    return [...this.subscriptionMap.values()].map(clone);
  }

  customers(): Json[] {
    return [...this.customerMap.values()].map(clone);
  }

  events(): StripeEvent[] {
    return [...this.eventMap.values()].map(clone);
  }

  /** Webhook deliveries of Stripe events (same as deliveries()). */
  disputes(): Json[] {
    return [...this.disputeMap.values()].map(clone);
  }

  webhookDeliveries(): DeliveryRecord[] {
    return this.deliveries().filter((d) => d.kind === 'webhook');
  }

  // ================================================================ control (tests and /_emulator routes)

  /**
   * Pays an open Checkout Session as a customer on the hosted page would, with a test PaymentMethod
   * (default pm_card_visa). Success completes the session and sends `payment_intent.succeeded` (payment
   * mode) or `customer.subscription.created` + `invoice.paid` (subscription mode), then
   * `checkout.session.completed`. A decline leaves the session open (payment mode sends
   * `payment_intent.payment_failed`). Resolves after the webhooks were delivered.
   */
  async payCheckoutSession(
    id: string,
    options: { paymentMethod?: string; email?: string; name?: string } = {},
  ): Promise<{ session: StripeCheckoutSession; paymentIntent?: StripePaymentIntent; error?: Json }> {
    const session = this.sessions.get(id);
    if (!session) throw new Error(`No such checkout.session: '${id}'`);
    if (session.status !== 'open') throw new Error(`Checkout Session ${id} is ${session.status}, not open`);
    const pmAlias = options.paymentMethod ?? 'pm_card_visa';
    const card = TEST_PAYMENT_METHODS[pmAlias];
    if (!card) throw new Error(`Unknown test payment method ${pmAlias}`);
    const email = options.email ?? session.customer_email ?? 'customer@example.com';
    const events: Promise<DeliveryRecord | undefined>[] = [];

    if (session.mode === 'payment') {
      const extras = this.sessionExtras.get(id);
      // One PaymentIntent per Checkout Session, as at Stripe: a declined attempt leaves it
      // requires_payment_method, and the next attempt confirms the same intent.
      const pi =
        (session.payment_intent ? this.intents.get(String(session.payment_intent)) : undefined) ??
        this.newPaymentIntent({
          amount: session.amount_total,
          currency: session.currency,
          customer: session.customer,
          description: extras?.paymentIntentData?.str('description') ?? null,
          metadata: extras?.paymentIntentData?.metadata() ?? {},
          automatic: false,
        });
      session.payment_intent = pi.id;
      const pm = this.createPaymentMethodFromAlias(pmAlias);
      // 3-D Secure happens on the hosted page; the emulator treats it as passed.
      const effective: TestCard = card.outcome === 'authenticate' ? { ...card, outcome: 'succeed' } : card;
      const result = this.charge(pi, pm, effective, null);
      events.push(...result.events);
      if (pi.status !== 'succeeded') {
        await Promise.all(events);
        return { session: clone(session), paymentIntent: clone(pi), error: clone(pi.last_payment_error ?? {}) };
      }
    } else {
      if (card.outcome === 'decline') {
        return {
          session: clone(session),
          error: { type: 'card_error', code: card.code, decline_code: card.declineCode, message: card.message },
        };
      }
      const customerId = session.customer ?? this.newCustomer({ email, name: options.name ?? null, metadata: {} }).id;
      session.customer = String(customerId);
      const pm = this.createPaymentMethodFromAlias(pmAlias);
      const sub = this.newSubscription(session, String(pm.id));
      events.push(this.emit('customer.subscription.created', sub));
      const invoice = this.newPaidInvoice(sub, 'subscription_create', String(pm.id), card);
      events.push(this.emit('invoice.paid', invoice));
      session.subscription = String(sub.id);
      session.invoice = String(invoice.id);
    }
    session.status = 'complete';
    session.payment_status = session.amount_total === 0 ? 'no_payment_required' : 'paid';
    session.url = null;
    session.customer_details = { email, name: options.name ?? null, phone: null, address: null, tax_exempt: 'none', tax_ids: [] };
    events.push(this.emit('checkout.session.completed', session));
    await Promise.all(events);
    const pi = session.payment_intent ? this.intents.get(session.payment_intent) : undefined;
    return { session: clone(session), paymentIntent: pi ? clone(pi) : undefined };
  }

  /** Expires an open Checkout Session and sends `checkout.session.expired`. Resolves after delivery. */
  async expireCheckoutSession(id: string): Promise<StripeCheckoutSession> {
    const result = this.expireSession(id);
    if (result instanceof StripeRequestError) throw new Error(result.message);
    await result.delivery;
    return clone(result.session);
  }

  /**
   * Finishes 3-D Secure for a PaymentIntent in `requires_action`: 'succeed' charges the card and sends
   * `payment_intent.succeeded`; 'fail' moves it back to `requires_payment_method` and sends
   * `payment_intent.payment_failed`. Resolves after delivery.
   */
  async completeThreeDSecure(id: string, outcome: 'succeed' | 'fail' = 'succeed'): Promise<StripePaymentIntent> {
    const pi = this.intents.get(id);
    if (!pi) throw new Error(`No such payment_intent: '${id}'`);
    if (pi.status !== 'requires_action') throw new Error(`PaymentIntent ${id} is ${pi.status}, not requires_action`);
    const pmId = pi.payment_method ?? '';
    const card = this.paymentMethodCards.get(pmId);
    if (!card) throw new Error(`PaymentIntent ${id} has no card`);
    const events: Promise<DeliveryRecord | undefined>[] = [];
    if (outcome === 'succeed') {
      events.push(...this.charge(pi, this.paymentMethods.get(pmId) ?? {}, { ...card, outcome: 'succeed' }, null).events);
    } else {
      pi.status = 'requires_payment_method';
      pi.next_action = null;
      pi.payment_method = null;
      pi.last_payment_error = {
        type: 'invalid_request_error',
        code: 'payment_intent_authentication_failure',
        doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
        message:
          'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
        payment_method: clone(this.paymentMethods.get(pmId) ?? {}),
      };
      events.push(this.emit('payment_intent.payment_failed', pi));
    }
    await Promise.all(events);
    return clone(pi);
  }

  /**
   * Bills the next period of an active subscription now, whatever the time: a charge and `invoice.paid`
   * (billing_reason subscription_cycle), or with a declining test PaymentMethod `invoice.payment_failed`
   * and status past_due. A subscription whose default PaymentMethod is attached to its customer (made by
   * `POST /v1/subscriptions`) and no `paymentMethod` given: renewed as a test clock renews it (that method
   * charged off session, the retry scheduled on failure; pay it with `POST /v1/invoices/:id/pay`).
   */
  async renewSubscription(id: string, options: { paymentMethod?: string } = {}): Promise<Json> {
    const sub = this.subscriptionMap.get(id);
    if (!sub) throw new Error(`No such subscription: '${id}'`);
    if (sub.status === 'canceled') throw new Error(`Subscription ${id} is canceled`);
    const saved = typeof sub.default_payment_method === 'string' ? this.paymentMethods.get(sub.default_payment_method) : undefined;
    if (!options.paymentMethod && saved?.customer === sub.customer) {
      await this.billing.clocks.renew(sub, Number((sub.items as { data: Json[] }).data[0]?.current_period_end));
      return clone(sub);
    }
    const pmAlias = options.paymentMethod ?? 'pm_card_visa';
    const card = TEST_PAYMENT_METHODS[pmAlias];
    if (!card) throw new Error(`Unknown test payment method ${pmAlias}`);
    const pm = this.createPaymentMethodFromAlias(pmAlias);
    const item = asRecord((sub.items as { data: Json[] }).data[0]) ?? {};
    const price = item.price as StripePrice;
    const start = Number(item.current_period_end);
    const end = addInterval(start, price.recurring?.interval ?? 'month', price.recurring?.interval_count ?? 1);
    let delivery: Promise<DeliveryRecord | undefined>;
    if (card.outcome === 'decline') {
      sub.status = 'past_due';
      const invoice = this.newInvoice(sub, 'subscription_cycle', 'open');
      delivery = this.emit('invoice.payment_failed', invoice);
    } else {
      item.current_period_start = start;
      item.current_period_end = end;
      sub.status = 'active';
      const invoice = this.newPaidInvoice(sub, 'subscription_cycle', String(pm.id), card);
      delivery = this.emit('invoice.paid', invoice);
    }
    await delivery;
    return clone(sub);
  }

  /**
   * The next `count` refunds are answered `pending` (as Stripe answers refunds that settle later: bank
   * debits, some card networks) and stay so until settleRefund(). While pending a refund counts in its
   * charge's `amount_refunded`, as at Stripe.
   */
  holdNextRefunds(count = 1): void {
    this.refundsToHold = count;
  }

  /**
   * Settles a pending refund as Stripe does later: `succeeded`, or `failed` (its amount no longer
   * refunded on the charge, `failure_reason` set). Sends `refund.updated` and `charge.refund.updated`
   * (and `refund.failed`); resolves after their delivery.
   */
  async settleRefund(id: string, outcome: 'succeeded' | 'failed'): Promise<StripeRefund> {
    const refund = this.refundMap.get(id);
    if (!refund) throw new Error(`No such refund: '${id}'`);
    if (refund.status !== 'pending') throw new Error(`Refund ${id} is ${refund.status}, not pending`);
    refund.status = outcome;
    if (outcome === 'failed') {
      refund.failure_reason = 'expired_or_canceled_card';
      const charge = this.chargeMap.get(refund.charge);
      if (charge) {
        charge.amount_refunded -= refund.amount;
        charge.refunded = charge.amount_refunded >= charge.amount_captured;
      }
    }
    const previous = { status: 'pending' };
    const deliveries = [this.emit('refund.updated', refund, previous), this.emit('charge.refund.updated', refund, previous)];
    if (outcome === 'failed') deliveries.push(this.emit('refund.failed', refund));
    await Promise.all(deliveries);
    return clone(refund);
  }

  /**
   * The cardholder disputes a succeeded charge (by its id or its PaymentIntent's): Stripe opens the
   * dispute (`charge.dispute.created`) with `needs_response` and an evidence deadline, or, with `warning`,
   * an inquiry (`warning_needs_response`) that takes no funds. Resolves after the webhook was delivered.
   */
  async createDispute(chargeOrIntent: string, options: { reason?: string; amount?: number; warning?: boolean } = {}): Promise<Json> {
    const charge =
      this.chargeMap.get(chargeOrIntent) ?? [...this.chargeMap.values()].find((c) => c.payment_intent === chargeOrIntent && c.paid);
    if (!charge || charge.status !== 'succeeded') throw new Error(`No succeeded charge for '${chargeOrIntent}'`);
    const dispute: Json = {
      id: `du_${randomId(24)}`,
      object: 'dispute',
      amount: options.amount ?? charge.amount,
      balance_transactions: [],
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      evidence: { uncategorized_text: null },
      evidence_details: { due_by: now() + 7 * 86_400, has_evidence: false, past_due: false, submission_count: 0 },
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: options.reason ?? 'fraudulent',
      status: options.warning ? 'warning_needs_response' : 'needs_response',
    };
    this.disputeMap.set(String(dispute.id), dispute);
    (charge as unknown as Json).disputed = true;
    await this.emit('charge.dispute.created', dispute);
    return clone(dispute);
  }

  /** Stripe takes the disputed amount and its fee (1500) from the balance: `charge.dispute.funds_withdrawn`. */
  async withdrawDisputeFunds(id: string): Promise<Json> {
    const dispute = this.getDispute(id);
    this.disputeBalance(dispute, -Number(dispute.amount), 1500);
    await this.emit('charge.dispute.funds_withdrawn', dispute);
    return clone(dispute);
  }

  /**
   * The network decides. Won: the amount comes back (`charge.dispute.funds_reinstated`), then
   * `charge.dispute.closed`; lost: only `charge.dispute.closed`. Resolves after the webhooks were delivered.
   */
  async closeDispute(id: string, outcome: 'won' | 'lost'): Promise<Json> {
    const dispute = this.getDispute(id);
    const previous = { status: dispute.status };
    dispute.status = outcome;
    if (outcome === 'won' && (dispute.balance_transactions as Json[]).length > 0) {
      this.disputeBalance(dispute, Number(dispute.amount), 0);
      await this.emit('charge.dispute.funds_reinstated', dispute);
    }
    await this.emit('charge.dispute.closed', dispute, previous);
    return clone(dispute);
  }

  private disputeBalance(dispute: Json, amount: number, fee: number): void {
    (dispute.balance_transactions as Json[]).push({
      id: `txn_${randomId(24)}`,
      object: 'balance_transaction',
      amount,
      net: amount - fee,
      fee,
      fee_details: fee > 0 ? [{ amount: fee, currency: dispute.currency, type: 'stripe_fee', description: 'Dispute fee' }] : [],
      currency: dispute.currency,
      created: now(),
      reporting_category: amount < 0 ? 'dispute' : 'dispute_reversal',
      type: 'adjustment',
    });
  }

  private filterDisputes(p: Params): { id: string; created?: number }[] {
    const pi = p.str('payment_intent');
    const charge = p.str('charge');
    return [...this.disputeMap.values()]
      .reverse()
      .filter((d) => (!pi || d.payment_intent === pi) && (!charge || d.charge === charge))
      .map((d) => d as Json & { id: string; created: number });
  }

  private getDispute(id: string): Json {
    const dispute = this.disputeMap.get(id);
    if (!dispute) throw noSuch('dispute', id);
    return dispute;
  }

  /** `evidence[uncategorized_text]`, and `submit` (default true) sends it: the dispute goes under review. */
  private updateDispute(req: EmulatorRequest, p: Params): EmulatorResponse {
    const dispute = this.getDispute(req.params.id);
    if (['won', 'lost', 'warning_closed'].includes(String(dispute.status)))
      throw invalid(`This dispute is already closed`, undefined, 'dispute_already_closed');
    const text = p.obj('evidence')?.str('uncategorized_text');
    if (text !== undefined) dispute.evidence = { ...(dispute.evidence as Json), uncategorized_text: text };
    if (p.bool('submit') !== false) {
      dispute.status = String(dispute.status).startsWith('warning_') ? 'warning_under_review' : 'under_review';
      const details = dispute.evidence_details as Json;
      dispute.evidence_details = { ...details, has_evidence: true, submission_count: Number(details.submission_count) + 1 };
    }
    if (p.has('metadata')) dispute.metadata = { ...(dispute.metadata as Json), ...p.metadata() };
    return json(200, clone(dispute), this.commonHeaders(req));
  }

  /** Creates an event of any type around `object` and delivers it. Resolves with the event after delivery. */
  async sendEvent(type: string, object: unknown, options: { previousAttributes?: Json } = {}): Promise<StripeEvent> {
    const event = this.createEvent(type, object, options.previousAttributes);
    await this.deliverEvent(event.id, false);
    return clone(event);
  }

  /**
   * Sends a stored event again. By default it is signed anew with the current time, as Stripe's
   * resend does; with `sameSignature: true` the exact bytes and Stripe-Signature header of the first
   * delivery are replayed (what an attacker replaying a captured webhook would send).
   */
  async resend(eventId: string, options: { sameSignature?: boolean } = {}): Promise<DeliveryRecord> {
    if (!this.eventMap.has(eventId)) throw new Error(`No such event: '${eventId}'`);
    const record = await this.deliverEvent(eventId, options.sameSignature === true);
    if (!record) throw new Error('no webhookUrl configured');
    return record;
  }

  /** The `Stripe-Signature` header Stripe would send for this payload (or with another secret, to forge one). */
  signPayload(payload: string, timestamp = now(), secret = this.webhookSecret): string {
    const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
    return `t=${timestamp},v1=${signature}`;
  }

  // ================================================================ base hooks

  protected override authenticate(req: EmulatorRequest): EmulatorResponse | null {
    const header = headerValue(req.headers, 'authorization') ?? '';
    let key = '';
    if (header.startsWith('Bearer ')) key = header.slice(7).trim();
    else if (header.startsWith('Basic ')) key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
    if (!key) {
      return this.errorResponse(req, 401, {
        type: 'invalid_request_error',
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    const acceptable = this.apiKey ? key === this.apiKey : /^(sk|rk)_test_/.test(key);
    if (!acceptable) {
      return this.errorResponse(req, 401, {
        type: 'invalid_request_error',
        code: 'api_key_invalid',
        message: `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`,
      });
    }
    return null;
  }

  protected override faultResponse(status: number, req: EmulatorRequest): EmulatorResponse {
    if (status === 429) {
      return this.errorResponse(req, 429, {
        type: 'invalid_request_error',
        code: 'rate_limit',
        message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
      });
    }
    if (status >= 500) {
      return this.errorResponse(req, status, {
        type: 'api_error',
        message: 'An unknown error occurred (injected by the Stripe emulator).',
      });
    }
    return this.errorResponse(req, status, { type: 'invalid_request_error', message: `Injected failure (HTTP ${status}).` });
  }

  protected override notFound(req: EmulatorRequest): EmulatorResponse {
    return this.errorResponse(req, 404, {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${req.method}: ${req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    });
  }

  protected override badBody(req: EmulatorRequest, message: string): EmulatorResponse {
    return this.errorResponse(req, 400, { type: 'invalid_request_error', message });
  }

  protected override state(): Record<string, unknown> {
    return {
      webhookUrl: this.webhookUrl ?? null,
      paymentIntents: this.paymentIntents(),
      charges: [...this.chargeMap.values()],
      refunds: this.refunds(),
      checkoutSessions: this.checkoutSessions(),
      subscriptions: this.subscriptions(),
      events: this.events().map((e) => ({ id: e.id, type: e.type, created: e.created })),
    };
  }

  protected override indexLinks(): string[] {
    return [...this.sessions.values()]
      .filter((s) => s.status === 'open')
      .map((s) => `<a href="/c/pay/${escapeHtml(s.id)}">open checkout ${escapeHtml(s.id)}</a>`)
      .concat(
        [...this.intents.values()]
          .filter((pi) => pi.status === 'requires_action')
          .map((pi) => `<a href="/_emulator/3ds/${escapeHtml(pi.id)}">3-D Secure for ${escapeHtml(pi.id)}</a>`),
      );
  }

  // ================================================================ routing helpers

  private errorResponse(req: EmulatorRequest, status: number, error: Json): EmulatorResponse {
    return json(
      status,
      { error: { ...error, request_log_url: `https://dashboard.stripe.com/test/logs/${req.requestId}` } },
      this.commonHeaders(req),
    );
  }

  private commonHeaders(req: EmulatorRequest): Record<string, string> {
    return { 'Request-Id': req.requestId, 'Stripe-Version': headerValue(req.headers, 'stripe-version') ?? this.apiVersion };
  }

  private get(pattern: string, handler: (req: EmulatorRequest, p: Params) => Json): void {
    this.route(
      'GET',
      pattern,
      (req) =>
        this.run(req, () => {
          rejectUnknownParams('GET', pattern, req.query);
          return json(200, handler(req, new Params(req.query)), this.commonHeaders(req));
        }),
      { auth: true },
    );
  }

  private delete(pattern: string, handler: (req: EmulatorRequest) => Json): void {
    this.route(
      'DELETE',
      pattern,
      (req) =>
        this.run(req, () => {
          rejectUnknownParams('DELETE', pattern, { ...req.query, ...formBody(req) });
          return json(200, handler(req), this.commonHeaders(req));
        }),
      { auth: true },
    );
  }

  /** A POST that does slow work (a clock advance): parameters checked, errors as Stripe's, no idempotency replay. */
  private postAsync(pattern: string, handler: (req: EmulatorRequest, p: Params) => Promise<EmulatorResponse>): void {
    this.route(
      'POST',
      pattern,
      async (req) => {
        try {
          rejectUnknownParams('POST', pattern, formBody(req));
          return await handler(req, new Params(formBody(req)));
        } catch (error) {
          if (error instanceof StripeRequestError) return this.errorResponse(req, error.status, error.error);
          throw error;
        }
      },
      { auth: true },
    );
  }

  /** POST routes run behind Stripe's idempotency layer. */
  private post(
    pattern: string,
    handler: (req: EmulatorRequest, p: Params) => EmulatorResponse,
    options: { auth: boolean; money?: boolean },
  ): void {
    this.route(
      'POST',
      pattern,
      (req) =>
        this.idempotent(req, () => {
          rejectUnknownParams('POST', pattern, formBody(req));
          return handler(req, new Params(formBody(req)));
        }),
      options,
    );
  }

  private run(req: EmulatorRequest, fn: () => EmulatorResponse): EmulatorResponse {
    try {
      return fn();
    } catch (error) {
      if (error instanceof StripeRequestError) return this.errorResponse(req, error.status, error.error);
      throw error;
    }
  }

  /**
   * Stripe's idempotency: the first answer to a key is stored (unless the request failed validation)
   * and replayed for the same key and parameters with `Idempotent-Replayed: true`; the same key with
   * other parameters or on another endpoint is a 400 idempotency_error.
   */
  private idempotent(req: EmulatorRequest, fn: () => EmulatorResponse): EmulatorResponse {
    const key = headerValue(req.headers, 'idempotency-key');
    if (!key) return this.run(req, fn);
    const fingerprint = canonicalJson({ path: req.path, body: formBody(req) });
    const stored = this.idempotency.get(key);
    if (stored) {
      if (stored.path !== req.path) {
        return this.errorResponse(req, 400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${stored.path}' vs '${req.path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      if (stored.fingerprint !== fingerprint) {
        return this.errorResponse(req, 400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      return json(stored.status, clone(stored.body), {
        ...this.commonHeaders(req),
        'Idempotency-Key': key,
        'Idempotent-Replayed': 'true',
        'Original-Request': stored.requestId,
      });
    }
    let response: EmulatorResponse;
    let store = true;
    try {
      response = fn();
    } catch (error) {
      if (!(error instanceof StripeRequestError)) throw error;
      response = this.errorResponse(req, error.status, error.error);
      store = error.store;
    }
    if (store)
      this.idempotency.set(key, {
        fingerprint,
        path: req.path,
        status: response.status,
        body: clone(response.body),
        requestId: req.requestId,
      });
    response.headers = { ...(response.headers ?? {}), 'Idempotency-Key': key };
    return response;
  }

  private retrieve(_req: EmulatorRequest, p: Params, object: object): Json {
    return this.expand(clone(object) as Json, p.strings('expand'));
  }

  /** Replaces ids with objects for `expand[]` paths (`latest_charge`, `payment_intent`, `data.latest_charge`, …). */
  private expand(object: Json, paths: string[]): Json {
    for (const path of paths) {
      const parts = path.split('.');
      if (parts[0] === 'data' && Array.isArray(object.data)) {
        object.data = (object.data as Json[]).map((item) => this.expand(item, [parts.slice(1).join('.')]));
        continue;
      }
      const [head, ...rest] = parts;
      const value = object[head];
      const resolved = typeof value === 'string' ? this.lookup(value) : asRecord(value);
      if (resolved) object[head] = rest.length > 0 ? this.expand(clone(resolved), [rest.join('.')]) : clone(resolved);
    }
    return object;
  }

  private lookup(id: string): Json | undefined {
    const maps: [string, Map<string, unknown>][] = [
      ['pi_', this.intents],
      ['ch_', this.chargeMap],
      ['re_', this.refundMap],
      ['cs_', this.sessions],
      ['pm_', this.paymentMethods],
      ['cus_', this.customerMap],
      ['prod_', this.productMap],
      ['price_', this.priceMap],
      ['sub_', this.subscriptionMap],
      ['in_', this.invoiceMap],
      ['du_', this.disputeMap],
    ];
    if (id.startsWith('txn_')) return this.balance.get(id) as Json | undefined;
    for (const [prefix, map] of maps) if (id.startsWith(prefix)) return map.get(id) as Json | undefined;
    return undefined;
  }

  private list(req: EmulatorRequest, p: Params, url: string, newestFirst: { id: string; created?: number }[]): Json {
    const limit = p.int('limit') ?? 10;
    if (limit < 1 || limit > 100) throw invalid('This value must be between 1 and 100 (it currently is ' + limit + ').', 'limit');
    let items = newestFirst;
    const created = p.obj('created');
    if (created) {
      const gte = created.int('gte');
      const gt = created.int('gt');
      const lte = created.int('lte');
      const lt = created.int('lt');
      items = items.filter((item) => {
        const c = item.created ?? 0;
        return (
          (gte === undefined || c >= gte) && (gt === undefined || c > gt) && (lte === undefined || c <= lte) && (lt === undefined || c < lt)
        );
      });
    } else if (p.has('created')) {
      const exact = p.int('created');
      items = items.filter((item) => item.created === exact);
    }
    const after = p.str('starting_after');
    const before = p.str('ending_before');
    if (after) {
      const index = items.findIndex((item) => item.id === after);
      if (index === -1) throw noSuch('object', after, 'starting_after');
      items = items.slice(index + 1);
    } else if (before) {
      const index = items.findIndex((item) => item.id === before);
      if (index === -1) throw noSuch('object', before, 'ending_before');
      items = items.slice(Math.max(0, index - limit), index);
    }
    const page = items.slice(0, limit);
    return this.expand({ object: 'list', data: page.map(clone), has_more: items.length > limit, url }, p.strings('expand'));
  }

  // ================================================================ payment intents

  private createPaymentIntent(req: EmulatorRequest, p: Params): EmulatorResponse {
    const amount = p.int('amount');
    if (amount === undefined) throw missingParam('amount');
    const currency = p.requiredStr('currency').toLowerCase();
    if (!/^[a-z]{3}$/.test(currency))
      throw invalid(`Invalid currency: ${currency}. Stripe currently supports these currencies: usd, eur, gbp, brl, …`, 'currency');
    if (amount < 1) throw invalid('This value must be greater than or equal to 1.', 'amount', 'parameter_invalid_integer');
    const minimum = MINIMUM_AMOUNTS[currency];
    if (minimum !== undefined && amount < minimum) {
      throw invalid(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, 'amount', 'amount_too_small');
    }
    const customer = p.str('customer') ?? null;
    if (customer && !this.customerMap.has(customer)) throw noSuch('customer', customer, 'customer');
    // `allowed_payment_method_types` in current API versions, `payment_method_types` in older ones.
    const types = p.has('allowed_payment_method_types') ? p.strings('allowed_payment_method_types') : p.strings('payment_method_types');
    const apm = p.obj('automatic_payment_methods');
    const confirm = p.bool('confirm') ?? false;
    const pmParam = p.str('payment_method');
    const returnUrl = p.str('return_url');
    if (returnUrl && !confirm) throw invalid('You can only pass in `return_url` when `confirm` is true.', 'return_url');
    const offSession = offSessionParam(p);
    if (offSession && !confirm) throw invalid('You can only pass in `off_session` when `confirm` is true.', 'off_session');
    const captureMethod = p.str('capture_method') ?? 'automatic_async';
    if (!['automatic', 'automatic_async', 'manual'].includes(captureMethod))
      throw invalid(`Invalid capture_method: ${captureMethod}`, 'capture_method');
    const pm = pmParam ? this.resolvePaymentMethod(pmParam) : undefined;

    const pi = this.newPaymentIntent({
      amount,
      currency,
      customer,
      description: p.str('description') ?? null,
      metadata: p.metadata(),
      automatic: types.length === 0,
      allowRedirects: apm?.str('allow_redirects') ?? 'always',
      types,
      captureMethod,
      receiptEmail: p.str('receipt_email') ?? null,
      statementDescriptor: p.str('statement_descriptor') ?? null,
    });
    if (pm) {
      pi.payment_method = String(pm.id);
      pi.status = 'requires_confirmation';
    }
    if (!confirm) return json(200, clone(pi), this.commonHeaders(req));
    return this.confirm(req, pi, returnUrl, offSession).response;
  }

  private updatePaymentIntent(req: EmulatorRequest, p: Params): EmulatorResponse {
    const pi = this.getIntent(req.params.id);
    if (['succeeded', 'canceled', 'processing'].includes(pi.status) && (p.has('amount') || p.has('currency'))) {
      throw invalid(
        `You cannot update the amount of a PaymentIntent with a status of ${pi.status}.`,
        'amount',
        'payment_intent_unexpected_state',
      );
    }
    const amount = p.int('amount');
    if (amount !== undefined) pi.amount = amount;
    const currency = p.str('currency');
    if (currency) pi.currency = currency.toLowerCase();
    if (p.has('description')) pi.description = p.str('description') || null;
    if (p.has('metadata')) pi.metadata = { ...pi.metadata, ...p.metadata() };
    const pmParam = p.str('payment_method');
    if (pmParam) {
      pi.payment_method = String(this.resolvePaymentMethod(pmParam).id);
      if (pi.status === 'requires_payment_method') pi.status = 'requires_confirmation';
    }
    return json(200, clone(pi), this.commonHeaders(req));
  }

  private confirmPaymentIntent(req: EmulatorRequest, p: Params): EmulatorResponse {
    const pi = this.getIntent(req.params.id);
    if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(pi.status)) {
      throw new StripeRequestError(
        400,
        {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_action, requires_payment_method.`,
          payment_intent: clone(pi),
        },
        true,
      );
    }
    const pmParam = p.str('payment_method');
    if (pmParam) pi.payment_method = String(this.resolvePaymentMethod(pmParam).id);
    return this.confirm(req, pi, p.str('return_url'), offSessionParam(p)).response;
  }

  private confirm(req: EmulatorRequest, pi: StripePaymentIntent, returnUrl: string | undefined, offSession = false): ConfirmOutcome {
    if (!pi.payment_method) {
      throw invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with cus_xxx, specify a payment method attached to this customer along with the customer ID.",
        'payment_method',
        'payment_intent_unexpected_state',
      );
    }
    // Off-session charges never redirect (the customer is not there): no return_url needed.
    if (!offSession && pi.automatic_payment_methods?.enabled && pi.automatic_payment_methods.allow_redirects !== 'never' && !returnUrl) {
      throw invalid(
        'This PaymentIntent is configured to accept payment methods enabled in your Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.',
        'return_url',
      );
    }
    if (returnUrl) this.intentReturnUrls.set(pi.id, returnUrl);
    const pm = this.paymentMethods.get(pi.payment_method) ?? {};
    const card = this.paymentMethodCards.get(pi.payment_method);
    if (!card) throw noSuch('PaymentMethod', pi.payment_method, 'payment_method');
    this.checkUsable(pm, pi.customer);
    // Off session, a card that wants 3-D Secure cannot ask for it: Stripe declines with authentication_required.
    const result = this.charge(
      pi,
      pm,
      offSession && card.outcome === 'authenticate' ? offSessionAuthentication(card) : card,
      returnUrl ?? null,
    );
    if (!pm.customer && (pi.status === 'succeeded' || pi.status === 'requires_capture')) this.spentMethods.add(String(pm.id));
    if (pi.status === 'requires_payment_method') {
      // A decline: 402 with the card error, the PaymentIntent inside it.
      const error = { ...(pi.last_payment_error ?? {}), payment_intent: clone(pi) };
      return {
        response: json(
          402,
          { error: { ...error, request_log_url: `https://dashboard.stripe.com/test/logs/${req.requestId}` } },
          this.commonHeaders(req),
        ),
        events: result.events,
      };
    }
    return { response: json(200, clone(pi), this.commonHeaders(req)), events: result.events };
  }

  /** Runs a card against a PaymentIntent: success, decline (failed charge) or 3-D Secure required. */
  private charge(
    pi: StripePaymentIntent,
    pm: Json,
    card: TestCard,
    returnUrl: string | null,
  ): { events: Promise<DeliveryRecord | undefined>[] } {
    pi.payment_method = String(pm.id);
    if (card.outcome === 'authenticate') {
      pi.status = 'requires_action';
      pi.next_action = {
        type: 'redirect_to_url',
        redirect_to_url: { url: `${this.url}/_emulator/3ds/${pi.id}`, return_url: returnUrl },
      };
      return { events: [] };
    }
    const charge = this.newCharge(pi, pm, card);
    pi.latest_charge = charge.id;
    pi.next_action = null;
    if (card.outcome === 'decline') {
      pi.status = 'requires_payment_method';
      pi.payment_method = null;
      pi.last_payment_error = {
        type: 'card_error',
        charge: charge.id,
        code: card.code,
        decline_code: card.declineCode,
        doc_url: `https://stripe.com/docs/error-codes/${(card.code ?? 'card_declined').replace(/_/g, '-')}`,
        message: card.message,
        payment_method: clone(pm),
      };
      return { events: [this.emit('payment_intent.payment_failed', pi)] };
    }
    pi.last_payment_error = null;
    if (pi.capture_method === 'manual') {
      pi.status = 'requires_capture';
      pi.amount_capturable = pi.amount;
      return { events: [this.emit('payment_intent.amount_capturable_updated', pi)] };
    }
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    return { events: [this.emit('payment_intent.succeeded', pi)] };
  }

  private capturePaymentIntent(req: EmulatorRequest, p: Params): EmulatorResponse {
    const pi = this.getIntent(req.params.id);
    if (pi.status !== 'requires_capture') {
      throw new StripeRequestError(
        400,
        {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
        },
        true,
      );
    }
    const amount = p.int('amount_to_capture') ?? pi.amount_capturable;
    if (amount < 1 || amount > pi.amount_capturable)
      throw invalid('The amount to capture must be between 1 and the amount capturable.', 'amount_to_capture');
    const charge = this.chargeMap.get(pi.latest_charge ?? '');
    if (charge) {
      charge.captured = true;
      charge.amount_captured = amount;
      charge.status = 'succeeded';
      charge.balance_transaction = this.balance.forCharge(charge).id;
    }
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    pi.status = 'succeeded';
    this.emit('payment_intent.succeeded', pi);
    return json(200, clone(pi), this.commonHeaders(req));
  }

  private cancelPaymentIntent(req: EmulatorRequest, p: Params): EmulatorResponse {
    const pi = this.getIntent(req.params.id);
    if (pi.status === 'succeeded' || pi.status === 'canceled') {
      throw new StripeRequestError(
        400,
        {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
        },
        true,
      );
    }
    pi.status = 'canceled';
    pi.canceled_at = now();
    pi.cancellation_reason = p.str('cancellation_reason') ?? null;
    pi.next_action = null;
    pi.amount_capturable = 0;
    this.emit('payment_intent.canceled', pi);
    return json(200, clone(pi), this.commonHeaders(req));
  }

  private newPaymentIntent(input: {
    amount: number;
    currency: string;
    customer: string | null;
    description: string | null;
    metadata: Metadata;
    automatic: boolean;
    allowRedirects?: string;
    types?: string[];
    captureMethod?: string;
    receiptEmail?: string | null;
    statementDescriptor?: string | null;
  }): StripePaymentIntent {
    const id = `pi_${randomId(24)}`;
    const pi: StripePaymentIntent = {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: input.types && input.types.length > 0 ? input.types : null,
      amount: input.amount,
      amount_capturable: 0,
      amount_received: 0,
      automatic_payment_methods: input.automatic ? { enabled: true, allow_redirects: input.allowRedirects ?? 'always' } : null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: input.captureMethod ?? 'automatic_async',
      client_secret: `${id}_secret_${randomId(25)}`,
      confirmation_method: 'automatic',
      created: now(),
      currency: input.currency,
      customer: input.customer,
      customer_account: null,
      description: input.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: input.metadata,
      next_action: null,
      on_behalf_of: null,
      payment_method: null,
      payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
      payment_method_types: input.types && input.types.length > 0 ? input.types : ['card'],
      processing: null,
      receipt_email: input.receiptEmail ?? null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      statement_descriptor: input.statementDescriptor ?? null,
      statement_descriptor_suffix: null,
      status: 'requires_payment_method',
      transfer_group: null,
    };
    this.intents.set(id, pi);
    return pi;
  }

  private newCharge(pi: StripePaymentIntent, pm: Json, card: TestCard): StripeCharge {
    const declined = card.outcome === 'decline';
    const manual = pi.capture_method === 'manual';
    const charge: StripeCharge = {
      id: `ch_${randomId(24)}`,
      object: 'charge',
      amount: pi.amount,
      amount_captured: declined || manual ? 0 : pi.amount,
      amount_refunded: 0,
      balance_transaction: null,
      captured: !declined && !manual,
      created: now(),
      currency: pi.currency,
      customer: pi.customer,
      description: pi.description,
      failure_code: declined ? (card.code ?? null) : null,
      failure_message: declined ? (card.message ?? null) : null,
      livemode: false,
      metadata: { ...pi.metadata },
      outcome: declined
        ? {
            network_status: 'declined_by_network',
            reason: card.declineCode,
            risk_level: 'normal',
            seller_message: 'The bank did not return any further details with this decline.',
            type: 'issuer_declined',
          }
        : {
            network_status: 'approved_by_network',
            reason: null,
            risk_level: 'normal',
            seller_message: 'Payment complete.',
            type: 'authorized',
          },
      paid: !declined,
      payment_intent: pi.id,
      payment_method: String(pm.id),
      payment_method_details: { type: 'card', card: clone(asRecord(pm.card) ?? {}) },
      refunded: false,
      status: declined ? 'failed' : manual ? 'pending' : 'succeeded',
    };
    if (charge.captured) charge.balance_transaction = this.balance.forCharge(charge).id;
    this.chargeMap.set(charge.id, charge);
    return charge;
  }

  private filterIntents(p: Params): StripePaymentIntent[] {
    const customer = p.str('customer');
    return [...this.intents.values()].reverse().filter((pi) => !customer || pi.customer === customer);
  }

  private filterCharges(p: Params): StripeCharge[] {
    const pi = p.str('payment_intent');
    return [...this.chargeMap.values()].reverse().filter((c) => !pi || c.payment_intent === pi);
  }

  private getIntent(id: string): StripePaymentIntent {
    const pi = this.intents.get(id);
    if (!pi) throw noSuch('payment_intent', id);
    return pi;
  }

  private getBalanceTransaction(id: string): object {
    const txn = this.balance.get(id);
    if (!txn) throw noSuch('balance transaction', id);
    return txn;
  }

  private getCharge(id: string): StripeCharge {
    const charge = this.chargeMap.get(id);
    if (!charge) throw noSuch('charge', id);
    return charge;
  }

  // ================================================================ payment methods

  /** Stripe's test tokens (`pm_card_visa`) create a new PaymentMethod on each use, as at Stripe. */
  private resolvePaymentMethod(idOrAlias: string): Json {
    if (TEST_PAYMENT_METHODS[idOrAlias]) return this.createPaymentMethodFromAlias(idOrAlias);
    const existing = this.paymentMethods.get(idOrAlias);
    if (!existing) throw noSuch('PaymentMethod', idOrAlias, 'payment_method');
    return existing;
  }

  private createPaymentMethodFromAlias(alias: string): Json {
    const card = TEST_PAYMENT_METHODS[alias];
    const id = `pm_${randomId(24)}`;
    const pm: Json = {
      id,
      object: 'payment_method',
      billing_details: { address: null, email: null, name: null, phone: null },
      card: {
        brand: card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
        country: 'US',
        display_brand: card.brand,
        exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3,
        fingerprint: randomId(16),
        funding: card.funding,
        last4: card.last4,
        networks: { available: [card.brand], preferred: null },
        three_d_secure_usage: { supported: true },
        wallet: null,
      },
      created: now(),
      customer: null,
      livemode: false,
      metadata: {},
      type: 'card',
    };
    this.paymentMethods.set(id, pm);
    this.paymentMethodCards.set(id, card);
    return pm;
  }

  private getPaymentMethod(id: string, param?: string): Json {
    const pm = this.paymentMethods.get(id);
    if (!pm) throw noSuch('PaymentMethod', id, param);
    return pm;
  }

  /**
   * Stripe's rules for charging a PaymentMethod: one spent (used without a Customer, or detached) never
   * again; one attached to a Customer only on a PaymentIntent for that Customer.
   */
  private checkUsable(pm: Json, customer: string | null): void {
    if (this.spentMethods.has(String(pm.id))) throw invalid(PAYMENT_METHOD_SPENT, 'payment_method');
    if (pm.customer && pm.customer !== customer) {
      throw invalid(
        customer
          ? `The provided PaymentMethod belongs to a different Customer (${String(pm.customer)}) than the one on this PaymentIntent (${customer}).`
          : `The provided PaymentMethod is attached to a Customer (${String(pm.customer)}). Pass that Customer's id in \`customer\` to use it.`,
        'payment_method',
      );
    }
  }

  /** Billing's rule for a default_payment_method: a PaymentMethod attached to this customer. */
  private attachedMethod(customerId: string, pmId: string, param: string): Json {
    const pm = this.paymentMethods.get(pmId);
    if (!pm) throw noSuch('PaymentMethod', pmId, param);
    if (pm.customer !== customerId)
      throw invalid(
        `The customer does not have a payment method with the ID ${pmId}. The payment method must be attached to the customer.`,
        param,
      );
    return pm;
  }

  /**
   * What an invoice payment is: a PaymentIntent for the customer, confirmed off session with the
   * PaymentMethod. A method no longer usable (detached since) fails as Stripe's attempt would.
   */
  private chargeOffSession(input: { amount: number; currency: string; customer: string; paymentMethod: string; description: string }): {
    intent: StripePaymentIntent;
    error: Json | null;
  } {
    const pi = this.newPaymentIntent({ ...input, metadata: {}, automatic: false });
    const pm = this.paymentMethods.get(input.paymentMethod);
    const card = this.paymentMethodCards.get(input.paymentMethod);
    try {
      if (!pm || !card) throw noSuch('PaymentMethod', input.paymentMethod, 'payment_method');
      this.checkUsable(pm, input.customer);
    } catch (error) {
      if (!(error instanceof StripeRequestError)) throw error;
      pi.last_payment_error = { ...error.error };
      return { intent: clone(pi), error: { ...error.error } };
    }
    this.charge(pi, pm, card.outcome === 'authenticate' ? offSessionAuthentication(card) : card, null);
    const paid = pi.status === 'succeeded';
    return { intent: clone(pi), error: paid ? null : { ...(pi.last_payment_error ?? { type: 'card_error', code: 'card_declined' }) } };
  }

  /**
   * Attaches a PaymentMethod (or a test token, which creates one) to a Customer. As at Stripe: one spent
   * or already attached is refused, and attaching runs a card check, so a card that declines cannot be
   * attached (except pm_card_chargeCustomerFail, whose charges decline later).
   */
  private attachPaymentMethod(req: EmulatorRequest, p: Params): EmulatorResponse {
    const customerId = p.requiredStr('customer');
    if (!this.customerMap.has(customerId)) throw noSuch('customer', customerId, 'customer');
    const pm = this.attach(req.params.id, customerId);
    return json(200, this.expand(clone(pm), p.strings('expand')), this.commonHeaders(req));
  }

  private attach(id: string, customerId: string, param?: string): Json {
    const pm = TEST_PAYMENT_METHODS[id] ? this.createPaymentMethodFromAlias(id) : this.getPaymentMethod(id, param);
    if (this.spentMethods.has(String(pm.id))) throw invalid(PAYMENT_METHOD_SPENT, param);
    if (pm.customer) throw invalid('The payment method you provided has already been attached to a customer.');
    const card = this.paymentMethodCards.get(String(pm.id));
    if (card && card.outcome === 'decline' && !card.attachable) {
      throw new StripeRequestError(
        402,
        { type: 'card_error', code: card.code, decline_code: card.declineCode, message: card.message, param: '' },
        true,
      );
    }
    pm.customer = customerId;
    this.emit('payment_method.attached', pm);
    return pm;
  }

  /** Detaches a PaymentMethod from its Customer: it can no longer be used (Stripe's rule), nor attached again. */
  private detachPaymentMethod(req: EmulatorRequest, p: Params): EmulatorResponse {
    const pm = this.getPaymentMethod(req.params.id);
    if (!pm.customer) throw invalid('The payment method you provided is not attached to a customer so detachment is impossible.');
    const previous = { customer: pm.customer };
    pm.customer = null;
    this.spentMethods.add(String(pm.id));
    this.emit('payment_method.detached', pm, previous);
    return json(200, this.expand(clone(pm), p.strings('expand')), this.commonHeaders(req));
  }

  private customerPaymentMethods(customerId: string, p: Params): { id: string; created?: number }[] {
    this.getCustomer(customerId);
    const type = p.str('type');
    return [...this.paymentMethods.values()].reverse().filter((pm) => pm.customer === customerId && (!type || pm.type === type)) as {
      id: string;
      created?: number;
    }[];
  }

  // ================================================================ refunds

  private createRefund(req: EmulatorRequest, p: Params): EmulatorResponse {
    const piId = p.str('payment_intent');
    const chargeId = p.str('charge');
    if (!piId && !chargeId) throw invalid('One of `charge` or `payment_intent` is required.');
    let charge: StripeCharge | undefined;
    if (piId) {
      const pi = this.intents.get(piId);
      if (!pi) throw noSuch('payment_intent', piId, 'payment_intent');
      if (pi.status !== 'succeeded') {
        throw new StripeRequestError(
          400,
          {
            type: 'invalid_request_error',
            code: 'payment_intent_unexpected_state',
            message: `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
            param: 'payment_intent',
          },
          true,
        );
      }
      charge = this.chargeMap.get(pi.latest_charge ?? '');
    } else if (chargeId) {
      charge = this.chargeMap.get(chargeId);
      if (!charge) throw noSuch('charge', chargeId, 'charge');
    }
    if (!charge || charge.status !== 'succeeded') throw invalid('This charge cannot be refunded.', 'charge');
    const remaining = charge.amount_captured - charge.amount_refunded;
    const amount = p.int('amount') ?? remaining;
    if (p.has('amount') && amount < 1)
      throw invalid('This value must be greater than or equal to 1.', 'amount', 'parameter_invalid_integer');
    if (remaining === 0) {
      throw new StripeRequestError(
        400,
        { type: 'invalid_request_error', code: 'charge_already_refunded', message: `Charge ${charge.id} has already been refunded.` },
        true,
      );
    }
    if (amount > remaining) {
      throw new StripeRequestError(
        400,
        {
          type: 'invalid_request_error',
          code: 'amount_too_large',
          param: 'amount',
          message: `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`,
        },
        true,
      );
    }
    const reason = p.str('reason') ?? null;
    if (reason && !['duplicate', 'fraudulent', 'requested_by_customer'].includes(reason)) {
      throw invalid(`Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer`, 'reason');
    }
    const refund: StripeRefund = {
      id: `re_${randomId(24)}`,
      object: 'refund',
      amount,
      balance_transaction: '',
      charge: charge.id,
      created: now(),
      currency: charge.currency,
      customer: charge.customer,
      destination_details: {
        type: 'card',
        card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      },
      metadata: p.metadata(),
      payment_intent: charge.payment_intent,
      payment_method: charge.payment_method,
      reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: this.refundsToHold > 0 ? 'pending' : 'succeeded',
      transfer_reversal: null,
    };
    if (this.refundsToHold > 0) this.refundsToHold--;
    this.refundMap.set(refund.id, refund);
    refund.balance_transaction = this.balance.forRefund(refund).id;
    const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount_captured;
    this.emit('charge.refunded', charge, previous);
    return json(200, clone(refund), this.commonHeaders(req));
  }

  private filterRefunds(p: Params): StripeRefund[] {
    const pi = p.str('payment_intent');
    const charge = p.str('charge');
    return [...this.refundMap.values()].reverse().filter((r) => (!pi || r.payment_intent === pi) && (!charge || r.charge === charge));
  }

  private getRefund(id: string): StripeRefund {
    const refund = this.refundMap.get(id);
    if (!refund) throw noSuch('refund', id);
    return refund;
  }

  // ================================================================ checkout sessions

  private createCheckoutSession(req: EmulatorRequest, p: Params): EmulatorResponse {
    const mode = p.requiredStr('mode');
    if (mode !== 'payment' && mode !== 'subscription') {
      throw invalid(`Invalid mode: ${mode}. The emulator supports payment and subscription.`, 'mode');
    }
    const rawItems = p.list('line_items');
    if (rawItems.length === 0) throw missingParam('line_items');
    const items: LineItem[] = rawItems.map((item, i) => {
      const quantity = item.int('quantity');
      if (quantity === undefined) throw missingParam(`line_items[${i}][quantity]`);
      if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', `line_items[${i}][quantity]`);
      const price = this.lineItemPrice(item, i);
      const description = String(this.productMap.get(price.product)?.name ?? '');
      return {
        id: `li_${randomId(24)}`,
        object: 'item',
        amount_subtotal: price.unit_amount * quantity,
        amount_total: price.unit_amount * quantity,
        currency: price.currency,
        description,
        price,
        quantity,
      };
    });
    const currencies = new Set(items.map((i) => i.price.currency));
    if (currencies.size > 1) throw invalid('All prices on a Checkout Session must have the same currency.', 'line_items');
    const recurring = items.some((i) => i.price.recurring);
    if (mode === 'payment' && recurring) {
      throw invalid(
        'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
        'line_items',
      );
    }
    if (mode === 'subscription' && !recurring) {
      throw invalid('You must provide at least one recurring price in `subscription` mode when using prices.', 'line_items');
    }
    const customer = p.str('customer') ?? null;
    if (customer && !this.customerMap.has(customer)) throw noSuch('customer', customer, 'customer');
    const created = now();
    const expiresAt = p.int('expires_at') ?? created + 24 * 3600;
    if (expiresAt < created + 1800 || expiresAt > created + 24 * 3600) {
      throw invalid(
        'The `expires_at` timestamp must be at least 30 minutes and at most 24 hours from Checkout Session creation.',
        'expires_at',
      );
    }
    const id = `cs_test_${randomId(58)}`;
    const total = items.reduce((sum, i) => sum + i.amount_total, 0);
    const session: StripeCheckoutSession = {
      id,
      object: 'checkout.session',
      amount_subtotal: total,
      amount_total: total,
      cancel_url: p.str('cancel_url') ?? null,
      client_reference_id: p.str('client_reference_id') ?? null,
      created,
      currency: items[0].currency,
      customer,
      customer_details: null,
      customer_email: p.str('customer_email') ?? null,
      expires_at: expiresAt,
      invoice: null,
      livemode: false,
      metadata: p.metadata(),
      mode,
      payment_intent: null,
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      status: 'open',
      subscription: null,
      success_url: p.str('success_url') ?? null,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted',
      url: `${this.url}/c/pay/${id}`,
    };
    this.sessions.set(id, session);
    this.sessionLineItems.set(id, items);
    this.sessionExtras.set(id, {
      paymentIntentData: p.obj('payment_intent_data'),
      subscriptionMetadata: p.obj('subscription_data')?.metadata() ?? {},
    });
    this.schedule((expiresAt - created) * 1000, () => {
      if (this.sessions.get(id)?.status === 'open') this.expireSession(id);
    });
    return json(200, clone(session), this.commonHeaders(req));
  }

  private lineItemPrice(item: Params, i: number): StripePrice {
    const priceId = item.str('price');
    if (priceId) {
      const price = this.priceMap.get(priceId);
      if (!price) throw noSuch('price', priceId, `line_items[${i}][price]`);
      return clone(price);
    }
    const data = item.obj('price_data');
    if (!data) throw invalid('You must specify either `price` or `price_data` for each line item.', `line_items[${i}]`);
    return this.newPrice(data, `line_items[${i}][price_data]`, false);
  }

  private newPrice(p: Params, prefix: string, persist: boolean): StripePrice {
    const currency = p.str('currency')?.toLowerCase();
    if (!currency) throw missingParam(`${prefix}[currency]`);
    const unitAmount = p.int('unit_amount');
    if (unitAmount === undefined) throw missingParam(`${prefix}[unit_amount]`);
    if (unitAmount < 0) throw invalid('This value must be greater than or equal to 0.', `${prefix}[unit_amount]`);
    let productId = p.str('product');
    if (productId) {
      if (!this.productMap.has(productId)) throw noSuch('product', productId, `${prefix}[product]`);
    } else {
      const productData = p.obj('product_data');
      const name = productData?.str('name');
      if (!productData || !name) throw missingParam(`${prefix}[product_data][name]`);
      productId = String(this.newProduct(name, productData.str('description') ?? null, productData.metadata()).id);
    }
    const recurring = p.obj('recurring');
    let recurringValue: StripePrice['recurring'] = null;
    if (recurring) {
      const interval = recurring.requiredStr('interval');
      if (!['day', 'week', 'month', 'year'].includes(interval))
        throw invalid(`Invalid interval: ${interval}`, `${prefix}[recurring][interval]`);
      recurringValue = { interval, interval_count: recurring.int('interval_count') ?? 1 };
    }
    const price: StripePrice = {
      id: `price_${randomId(24)}`,
      object: 'price',
      active: true,
      created: now(),
      currency,
      livemode: false,
      lookup_key: p.str('lookup_key') ?? null,
      metadata: p.metadata(),
      nickname: p.str('nickname') ?? null,
      product: productId,
      recurring: recurringValue,
      type: recurringValue ? 'recurring' : 'one_time',
      unit_amount: unitAmount,
    };
    if (persist) this.priceMap.set(price.id, price);
    return price;
  }

  private expireSessionRoute(req: EmulatorRequest): EmulatorResponse {
    const result = this.expireSession(req.params.id);
    if (result instanceof StripeRequestError) throw result;
    return json(200, clone(result.session), this.commonHeaders(req));
  }

  private expireSession(
    id: string,
  ): StripeRequestError | { session: StripeCheckoutSession; delivery: Promise<DeliveryRecord | undefined> } {
    const session = this.sessions.get(id);
    if (!session) return noSuch('checkout.session', id);
    if (session.status !== 'open') {
      return new StripeRequestError(
        400,
        { type: 'invalid_request_error', message: `Only Checkout Sessions with a status in ["open"] can be expired.` },
        true,
      );
    }
    session.status = 'expired';
    session.url = null;
    return { session, delivery: this.emit('checkout.session.expired', session) };
  }

  private filterSessions(p: Params): StripeCheckoutSession[] {
    const pi = p.str('payment_intent');
    return [...this.sessions.values()].reverse().filter((s) => !pi || s.payment_intent === pi);
  }

  private getSession(id: string): StripeCheckoutSession {
    const session = this.sessions.get(id);
    if (!session) throw noSuch('checkout.session', id);
    return session;
  }

  private sessionItems(id: string): LineItem[] {
    this.getSession(id);
    return this.sessionLineItems.get(id) ?? [];
  }

  // ================================================================ customers, products, prices, subscriptions, invoices

  private createCustomer(req: EmulatorRequest, p: Params): EmulatorResponse {
    const clock = p.str('test_clock');
    const pmId = p.str('payment_method');
    const invoiceDefault = p.obj('invoice_settings')?.str('default_payment_method');
    // At creation the only method the customer can have is the one attached with it.
    if (invoiceDefault && invoiceDefault !== pmId)
      throw invalid(
        `The customer does not have a payment method with the ID ${invoiceDefault}. The payment method must be attached to the customer.`,
        'invoice_settings[default_payment_method]',
      );
    const customer = this.newCustomer({
      email: p.str('email') ?? null,
      name: p.str('name') ?? null,
      metadata: p.metadata(),
      testClock: clock ? this.billing.clocks.requireClock(clock, 'test_clock') : null,
    });
    if (pmId) {
      try {
        const pm = this.attach(pmId, String(customer.id), 'payment_method');
        if (invoiceDefault) customer.invoice_settings = { default_payment_method: pm.id };
      } catch (error) {
        this.customerMap.delete(String(customer.id));
        throw error;
      }
    }
    return json(200, clone(customer), this.commonHeaders(req));
  }

  private newCustomer(input: { email: string | null; name: string | null; metadata: Metadata; testClock?: string | null }): Json {
    const customer: Json = {
      id: `cus_${randomId(14)}`,
      object: 'customer',
      created: now(),
      email: input.email,
      name: input.name,
      livemode: false,
      metadata: input.metadata,
      invoice_settings: { default_payment_method: null },
      test_clock: input.testClock ?? null,
    };
    this.customerMap.set(String(customer.id), customer);
    return customer;
  }

  private getCustomer(id: string): Json {
    const customer = this.customerMap.get(id);
    if (!customer) throw noSuch('customer', id);
    return customer;
  }

  private createProduct(req: EmulatorRequest, p: Params): EmulatorResponse {
    const product = this.newProduct(p.requiredStr('name'), p.str('description') ?? null, p.metadata(), p.str('id'));
    return json(200, clone(product), this.commonHeaders(req));
  }

  private newProduct(name: string, description: string | null, metadata: Metadata, id?: string): Json {
    const productId = id ?? `prod_${randomId(14)}`;
    if (this.productMap.has(productId)) {
      throw new StripeRequestError(400, {
        type: 'invalid_request_error',
        code: 'resource_already_exists',
        message: `Product already exists.`,
        param: 'id',
      });
    }
    const product: Json = { id: productId, object: 'product', active: true, created: now(), description, livemode: false, metadata, name };
    this.productMap.set(productId, product);
    return product;
  }

  private getProduct(id: string): Json {
    const product = this.productMap.get(id);
    if (!product) throw noSuch('product', id);
    return product;
  }

  private createPrice(req: EmulatorRequest, p: Params): EmulatorResponse {
    return json(200, clone(this.newPrice(p, '', true)), this.commonHeaders(req));
  }

  private getPrice(id: string): StripePrice {
    const price = this.priceMap.get(id);
    if (!price) throw noSuch('price', id);
    return price;
  }

  private newSubscription(session: StripeCheckoutSession, paymentMethodId: string): Json {
    const items = this.sessionLineItems.get(session.id) ?? [];
    const start = now();
    const id = `sub_${randomId(24)}`;
    const sub: Json = {
      id,
      object: 'subscription',
      cancel_at_period_end: false,
      canceled_at: null,
      created: start,
      currency: session.currency,
      customer: session.customer,
      default_payment_method: paymentMethodId,
      items: {
        object: 'list',
        data: items.map((item) => ({
          id: `si_${randomId(14)}`,
          object: 'subscription_item',
          current_period_start: start,
          current_period_end: addInterval(start, item.price.recurring?.interval ?? 'month', item.price.recurring?.interval_count ?? 1),
          price: clone(item.price),
          quantity: item.quantity,
          subscription: id,
        })),
        has_more: false,
        url: `/v1/subscription_items?subscription=${id}`,
      },
      latest_invoice: null,
      livemode: false,
      metadata: this.sessionExtras.get(session.id)?.subscriptionMetadata ?? {},
      start_date: start,
      status: 'active',
    };
    this.subscriptionMap.set(id, sub);
    return sub;
  }

  private newInvoice(sub: Json, billingReason: string, status: 'paid' | 'open'): Json {
    return this.billing.newInvoice(sub, billingReason, status);
  }

  private newPaidInvoice(sub: Json, billingReason: string, paymentMethodId: string, card: TestCard): Json {
    const invoice = this.newInvoice(sub, billingReason, 'paid');
    const pi = this.newPaymentIntent({
      amount: Number(invoice.amount_due),
      currency: String(invoice.currency),
      customer: String(sub.customer),
      description: 'Subscription update',
      metadata: {},
      automatic: false,
    });
    this.charge(pi, this.paymentMethods.get(paymentMethodId) ?? { id: paymentMethodId }, { ...card, outcome: 'succeed' }, null);
    invoice.payments = {
      object: 'list',
      data: [{ object: 'invoice_payment', payment: { type: 'payment_intent', payment_intent: pi.id }, status: 'paid' }],
    };
    return invoice;
  }

  private getSubscription(id: string): Json {
    const sub = this.subscriptionMap.get(id);
    if (!sub) throw noSuch('subscription', id);
    return sub;
  }

  private cancelSubscriptionRoute(req: EmulatorRequest): Json {
    const sub = this.getSubscription(req.params.id);
    if (sub.status === 'canceled') return clone(sub);
    sub.status = 'canceled';
    sub.canceled_at = now();
    sub.ended_at = now();
    this.emit('customer.subscription.deleted', sub);
    return clone(sub);
  }

  private getInvoice(id: string): Json {
    const invoice = this.invoiceMap.get(id);
    if (!invoice) throw noSuch('invoice', id);
    return invoice;
  }

  // ================================================================ events and webhooks

  private filterEvents(p: Params): StripeEvent[] {
    const type = p.str('type');
    const types = p.strings('types');
    const matches = (t: string): boolean =>
      (!type || (type.endsWith('*') ? t.startsWith(type.slice(0, -1)) : t === type)) && (types.length === 0 || types.includes(t));
    return [...this.eventMap.values()].reverse().filter((e) => matches(e.type));
  }

  private getEvent(id: string): StripeEvent {
    const event = this.eventMap.get(id);
    if (!event) throw noSuch('event', id);
    return event;
  }

  private createEvent(type: string, object: unknown, previousAttributes?: Json): StripeEvent {
    const event: StripeEvent = {
      id: `evt_${randomId(24)}`,
      object: 'event',
      api_version: this.apiVersion,
      created: now(),
      data: { object: clone(object), ...(previousAttributes ? { previous_attributes: previousAttributes } : {}) },
      livemode: false,
      pending_webhooks: this.webhookUrl ? 1 : 0,
      request: { id: null, idempotency_key: null },
      type,
    };
    this.eventMap.set(event.id, event);
    return event;
  }

  /** Records an event (snapshot of `object` now) and delivers it in the background. */
  private emit(type: string, object: unknown, previousAttributes?: Json): Promise<DeliveryRecord | undefined> {
    const event = this.createEvent(type, object, previousAttributes);
    return this.deliverEvent(event.id, false);
  }

  private deliverEvent(eventId: string, sameSignature: boolean): Promise<DeliveryRecord | undefined> {
    const url = this.webhookUrl;
    if (!url) return Promise.resolve(undefined);
    const event = this.eventMap.get(eventId);
    if (!event) return Promise.resolve(undefined);
    const first = this.eventPayloads.get(eventId);
    let payload: string;
    let signature: string;
    if (sameSignature && first) {
      ({ payload, signature } = first);
    } else {
      // Stripe sends pretty-printed JSON; the signature covers these exact bytes.
      payload = JSON.stringify(event, null, 2);
      signature = this.signPayload(payload);
      if (!first) this.eventPayloads.set(eventId, { payload, signature });
    }
    return this.deliver({
      kind: 'webhook',
      subjectId: eventId,
      url,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'Stripe-Signature': signature,
        'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        Accept: '*/*; q=0.5, application/xml',
      },
      body: payload,
    });
  }

  // ================================================================ hosted pages and control routes

  private checkoutPage(id: string): EmulatorResponse {
    const session = this.sessions.get(id);
    if (!session) return html(404, 'Checkout Session not found', `<p>No such checkout session ${escapeHtml(id)}</p>`);
    if (session.status !== 'open') return html(410, 'Checkout Session closed', `<p>This session is ${escapeHtml(session.status)}.</p>`);
    const items = (this.sessionLineItems.get(id) ?? [])
      .map((i) => `<li>${escapeHtml(i.description)} × ${i.quantity}: ${escapeHtml(formatAmount(i.amount_total, i.currency))}</li>`)
      .join('');
    const options = Object.keys(TEST_PAYMENT_METHODS)
      .map((pm) => `<option value="${pm}">${pm}</option>`)
      .join('');
    return html(
      200,
      'Stripe Checkout (emulator)',
      [
        `<p>Session <code>${escapeHtml(id)}</code> (${escapeHtml(session.mode)})</p><ul>${items}</ul>`,
        `<p><strong>Total ${escapeHtml(formatAmount(session.amount_total, session.currency))}</strong></p>`,
        `<div class="box"><form method="post" action="/_emulator/checkout/sessions/${escapeHtml(id)}/pay">`,
        `Email <input name="email" value="${escapeHtml(session.customer_email ?? 'customer@example.com')}"> `,
        `Card <select name="payment_method">${options}</select> <button>Pay</button></form></div>`,
        `<form method="post" action="/_emulator/checkout/sessions/${escapeHtml(id)}/cancel"><button>Back (cancel_url)</button></form>`,
        `<form method="post" action="/_emulator/checkout/sessions/${escapeHtml(id)}/expire"><button>Expire session</button></form>`,
      ].join(''),
    );
  }

  private async payRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const body = asRecord(req.body) ?? {};
    const session = this.sessions.get(req.params.id);
    if (!session) return html(404, 'Checkout Session not found', '');
    if (session.status !== 'open') return html(400, 'Checkout Session closed', `<p>This session is ${escapeHtml(session.status)}.</p>`);
    const pm = asString(body.payment_method) ?? 'pm_card_visa';
    if (!TEST_PAYMENT_METHODS[pm]) return html(400, 'Unknown card', `<p>${escapeHtml(pm)}</p>`);
    const result = await this.payCheckoutSession(session.id, { paymentMethod: pm, email: asString(body.email) });
    if (result.error) {
      return html(
        402,
        'Payment declined',
        `<p>${escapeHtml(result.error.message)}</p><p><a href="/c/pay/${escapeHtml(session.id)}">Try again</a></p>`,
      );
    }
    if (session.success_url) return redirect(session.success_url.replace('{CHECKOUT_SESSION_ID}', session.id));
    return html(200, 'Payment complete', `<p>Session ${escapeHtml(session.id)} is complete.</p>`);
  }

  private cancelCheckoutRoute(req: EmulatorRequest): EmulatorResponse {
    const session = this.sessions.get(req.params.id);
    if (!session) return html(404, 'Checkout Session not found', '');
    if (session.cancel_url) return redirect(session.cancel_url);
    return html(200, 'Checkout left', '<p>No cancel_url; the session stays open.</p>');
  }

  private async controlExpireRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    try {
      return json(200, await this.expireCheckoutSession(req.params.id));
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private threeDSecurePage(id: string): EmulatorResponse {
    const pi = this.intents.get(id);
    if (!pi) return html(404, '3-D Secure', `<p>No such payment intent ${escapeHtml(id)}</p>`);
    if (pi.status !== 'requires_action') return html(400, '3-D Secure', `<p>PaymentIntent is ${escapeHtml(pi.status)}.</p>`);
    const action = `/_emulator/payment_intents/${escapeHtml(id)}/3ds`;
    return html(
      200,
      '3-D Secure test page (emulator)',
      [
        `<p>Authenticate ${escapeHtml(formatAmount(pi.amount, pi.currency))} for <code>${escapeHtml(id)}</code></p>`,
        `<form method="post" action="${action}"><input type="hidden" name="outcome" value="succeed"><button>Complete authentication</button></form>`,
        `<form method="post" action="${action}"><input type="hidden" name="outcome" value="fail"><button>Fail authentication</button></form>`,
      ].join(''),
    );
  }

  private async threeDSecureRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const outcome = asString(asRecord(req.body)?.outcome) === 'fail' ? 'fail' : 'succeed';
    let pi: StripePaymentIntent;
    try {
      pi = await this.completeThreeDSecure(req.params.id, outcome);
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
    const returnUrl = this.intentReturnUrls.get(pi.id);
    if (!returnUrl) return json(200, pi);
    const target = new URL(returnUrl);
    target.searchParams.set('payment_intent', pi.id);
    target.searchParams.set('payment_intent_client_secret', pi.client_secret);
    target.searchParams.set('redirect_status', pi.status === 'succeeded' ? 'succeeded' : 'failed');
    return redirect(target.toString());
  }

  private async renewRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    try {
      return json(200, await this.renewSubscription(req.params.id, { paymentMethod: asString(asRecord(req.body)?.payment_method) }));
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async settleRefundRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const outcome = asString(asRecord(req.body)?.status) === 'failed' ? 'failed' : 'succeeded';
    try {
      return json(200, await this.settleRefund(req.params.id, outcome));
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async resendRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    try {
      return json(200, await this.resend(req.params.id, { sameSignature: asString(asRecord(req.body)?.same_signature) === 'true' }));
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async sendEventRoute(req: EmulatorRequest): Promise<EmulatorResponse> {
    const body = asRecord(req.body) ?? {};
    const type = asString(body.type);
    if (!type) return json(400, { error: 'type is required' });
    return json(200, await this.sendEvent(type, body.object ?? {}));
  }
}
