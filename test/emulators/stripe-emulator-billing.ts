import type { DeliveryRecord, EmulatorRequest, EmulatorResponse } from './emulator-server';
import { randomId } from './emulator-server';
import { StripeTestClocks } from './stripe-emulator-clocks';
import {
  addInterval,
  clone,
  invalid,
  Json,
  missingParam,
  noSuch,
  Params,
  StripePaymentIntent,
  StripePrice,
  StripeRequestError,
} from './stripe-emulator-support';

/** What Billing uses of the Stripe emulator: its objects, its off-session charges, its events and routing. */
export interface BillingHost {
  customers: Map<string, Json>;
  subscriptions: Map<string, Json>;
  invoices: Map<string, Json>;
  price(id: string, param: string): StripePrice;
  /** The PaymentMethod, if it is attached to this customer; else Stripe's refusal. */
  attachedMethod(customerId: string, paymentMethodId: string, param: string): Json;
  /** An off-session PaymentIntent confirmed at once; `error` is its card error when it declined. */
  chargeOffSession(input: { amount: number; currency: string; customer: string; paymentMethod: string; description: string }): {
    intent: StripePaymentIntent;
    error: Json | null;
  };
  emit(type: string, object: unknown, previousAttributes?: Json): Promise<DeliveryRecord | undefined>;
  get(pattern: string, handler: (req: EmulatorRequest, p: Params) => Json): void;
  post(pattern: string, handler: (req: EmulatorRequest, p: Params) => EmulatorResponse, options: { auth: boolean; money?: boolean }): void;
  delete(pattern: string, handler: (req: EmulatorRequest) => Json): void;
  /** A POST whose work takes time (a clock advance): parameters checked, no idempotency replay. */
  postAsync(pattern: string, handler: (req: EmulatorRequest, p: Params) => Promise<EmulatorResponse>): void;
  respond(req: EmulatorRequest, body: Json, expand?: string[]): EmulatorResponse;
  list(req: EmulatorRequest, p: Params, url: string, newestFirst: { id: string; created?: number }[]): Json;
}

export interface BillingOptions {
  /** Days after each failed attempt of an invoice until the next (Stripe's custom retry schedule). Default 3, 5, 7. */
  retryDays?: number[];
  /** What happens to the subscription when the last retry fails: canceled (default) or unpaid. */
  finalAction?: 'cancel' | 'unpaid';
}

/**
 * Stripe Billing in the emulator: Subscriptions created with a Customer and an attached
 * default_payment_method (first invoice charged off session at once), updates (method, cancel at period
 * end), Invoices with Stripe's retry schedule, and paying an open invoice now. Time moves with Test
 * Clocks (stripe-emulator-clocks.ts).
 */
export class StripeBilling {
  readonly clocks: StripeTestClocks;

  constructor(
    private readonly host: BillingHost,
    private readonly options: BillingOptions = {},
  ) {
    const api = { auth: true };
    host.post('/v1/subscriptions', (req, p) => this.createSubscription(req, p), { auth: true, money: true });
    host.get('/v1/subscriptions', (req, p) => host.list(req, p, '/v1/subscriptions', this.filterSubscriptions(p)));
    host.post('/v1/subscriptions/:id', (req, p) => this.updateSubscription(req, p), api);
    host.get('/v1/invoices', (req, p) => host.list(req, p, '/v1/invoices', this.filterInvoices(p)));
    host.post('/v1/invoices/:id/pay', (req, p) => this.payInvoiceRoute(req, p), { auth: true, money: true });
    this.clocks = new StripeTestClocks(host, this);
  }

  /** What happens to a subscription when the last retry of an invoice fails. */
  get finalAction(): 'cancel' | 'unpaid' {
    return this.options.finalAction ?? 'cancel';
  }

  /** The time a customer lives in: its test clock's frozen time, or now. */
  timeOf(customerId: string | null | undefined): number {
    return this.clocks.timeOf(customerId);
  }

  /** An invoice for a subscription's items and its current period (the shape Stripe's 2025+ API versions use). */
  newInvoice(sub: Json, billingReason: string, status: 'paid' | 'open', at = this.timeOf(String(sub.customer))): Json {
    const items = (sub.items as { data: Json[] }).data;
    const amount = items.reduce((sum, item) => sum + (item.price as StripePrice).unit_amount * Number(item.quantity), 0);
    const invoice: Json = {
      id: `in_${randomId(24)}`,
      object: 'invoice',
      amount_due: amount,
      amount_paid: status === 'paid' ? amount : 0,
      amount_remaining: status === 'paid' ? 0 : amount,
      attempt_count: 0,
      attempted: false,
      billing_reason: billingReason,
      collection_method: 'charge_automatically',
      created: at,
      currency: sub.currency,
      customer: sub.customer,
      lines: {
        object: 'list',
        data: items.map((item) => ({
          id: `il_${randomId(24)}`,
          object: 'line_item',
          amount: (item.price as StripePrice).unit_amount * Number(item.quantity),
          currency: sub.currency,
          period: { start: item.current_period_start, end: item.current_period_end },
          pricing: { type: 'price_details', price_details: { price: (item.price as StripePrice).id } },
          quantity: item.quantity,
        })),
        has_more: false,
      },
      livemode: false,
      next_payment_attempt: null,
      parent: { type: 'subscription_details', subscription_details: { metadata: sub.metadata, subscription: sub.id } },
      payments: { object: 'list', data: [] },
      period_start: items[0]?.current_period_start ?? at,
      period_end: items[0]?.current_period_end ?? at,
      status,
      status_transitions: { finalized_at: at, paid_at: status === 'paid' ? at : null },
      test_clock: sub.test_clock ?? null,
      total: amount,
    };
    this.host.invoices.set(String(invoice.id), invoice);
    sub.latest_invoice = invoice.id;
    return invoice;
  }

  // ================================================================ subscriptions

  private createSubscription(req: EmulatorRequest, p: Params): EmulatorResponse {
    const customerId = p.requiredStr('customer');
    if (!this.host.customers.has(customerId)) throw noSuch('customer', customerId, 'customer');
    const rawItems = p.list('items');
    if (rawItems.length === 0) throw missingParam('items');
    const at = this.timeOf(customerId);
    const items = rawItems.map((item, i) => {
      const price = this.host.price(item.requiredStr('price'), `items[${i}][price]`);
      if (!price.recurring)
        throw invalid(
          `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
          `items[${i}][price]`,
        );
      const quantity = item.int('quantity') ?? 1;
      if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', `items[${i}][quantity]`);
      return { price, quantity };
    });
    if (new Set(items.map((i) => i.price.currency)).size > 1)
      throw invalid('All prices on a subscription must have the same currency.', 'items');
    const intervals = new Set(items.map((i) => `${i.price.recurring?.interval}/${i.price.recurring?.interval_count}`));
    if (intervals.size > 1)
      throw invalid('All prices on a subscription must have the same `recurring.interval` and `recurring.interval_count`.', 'items');
    const pmId = p.str('default_payment_method');
    const customerDefault = (this.host.customers.get(customerId)?.invoice_settings as Json | undefined)?.default_payment_method;
    if (!pmId && !customerDefault)
      throw invalid('This customer has no attached payment source or default payment method.', 'default_payment_method');
    if (pmId) this.host.attachedMethod(customerId, pmId, 'default_payment_method');
    const behavior = p.str('payment_behavior') ?? 'allow_incomplete';
    if (!['allow_incomplete', 'error_if_incomplete'].includes(behavior))
      throw invalid(
        `The emulator supports payment_behavior allow_incomplete and error_if_incomplete, not ${behavior}.`,
        'payment_behavior',
      );
    const collection = p.str('collection_method') ?? 'charge_automatically';
    if (collection !== 'charge_automatically')
      throw invalid('The emulator bills only with collection_method charge_automatically.', 'collection_method');

    const id = `sub_${randomId(24)}`;
    const interval = items[0].price.recurring ?? { interval: 'month', interval_count: 1 };
    const sub: Json = {
      id,
      object: 'subscription',
      billing_cycle_anchor: at,
      cancel_at: null,
      cancel_at_period_end: p.bool('cancel_at_period_end') ?? false,
      canceled_at: null,
      collection_method: collection,
      created: at,
      currency: items[0].price.currency,
      customer: customerId,
      default_payment_method: pmId ?? null,
      description: p.str('description') ?? null,
      ended_at: null,
      items: {
        object: 'list',
        data: items.map((item) => ({
          id: `si_${randomId(14)}`,
          object: 'subscription_item',
          current_period_start: at,
          current_period_end: addInterval(at, interval.interval, interval.interval_count),
          price: clone(item.price),
          quantity: item.quantity,
          subscription: id,
        })),
        has_more: false,
        url: `/v1/subscription_items?subscription=${id}`,
      },
      latest_invoice: null,
      livemode: false,
      metadata: p.metadata(),
      start_date: at,
      status: 'incomplete',
      test_clock: this.host.customers.get(customerId)?.test_clock ?? null,
    };
    const invoice = this.newInvoice(sub, 'subscription_create', 'open', at);
    const error = this.attempt(invoice, sub, at, false);
    if (error && behavior === 'error_if_incomplete') {
      this.host.invoices.delete(String(invoice.id));
      throw new StripeRequestError(402, error, true);
    }
    sub.status = error ? 'incomplete' : 'active';
    this.host.subscriptions.set(id, sub);
    void this.host.emit('customer.subscription.created', sub);
    void this.host.emit(error ? 'invoice.payment_failed' : 'invoice.paid', invoice);
    return this.host.respond(req, sub, p.strings('expand'));
  }

  /** `cancel_at_period_end`, `default_payment_method` (attached to the customer), `metadata`, `description`. */
  private updateSubscription(req: EmulatorRequest, p: Params): EmulatorResponse {
    const sub = this.subscription(req.params.id);
    if (['canceled', 'incomplete_expired'].includes(String(sub.status)))
      throw invalid(`A canceled subscription can only update its cancellation_details and metadata.`);
    const previous: Json = {};
    const set = (field: string, value: unknown) => {
      if (sub[field] === value) return;
      previous[field] = sub[field];
      sub[field] = value;
    };
    const pmId = p.str('default_payment_method');
    if (pmId) {
      this.host.attachedMethod(String(sub.customer), pmId, 'default_payment_method');
      set('default_payment_method', pmId);
    }
    const cancelAtEnd = p.bool('cancel_at_period_end');
    if (cancelAtEnd !== undefined) set('cancel_at_period_end', cancelAtEnd);
    if (p.has('description')) set('description', p.str('description') || null);
    if (p.has('metadata')) set('metadata', { ...(sub.metadata as Json), ...p.metadata() });
    if (Object.keys(previous).length > 0) void this.host.emit('customer.subscription.updated', sub, previous);
    return this.host.respond(req, sub, p.strings('expand'));
  }

  private filterSubscriptions(p: Params): Json[] & { id: string }[] {
    const customer = p.str('customer');
    const status = p.str('status');
    return [...this.host.subscriptions.values()]
      .reverse()
      .filter((s) => (!customer || s.customer === customer) && (!status || status === 'all' || s.status === status)) as Json[] &
      { id: string }[];
  }

  private subscription(id: string): Json {
    const sub = this.host.subscriptions.get(id);
    if (!sub) throw noSuch('subscription', id);
    return sub;
  }

  // ================================================================ invoices

  /**
   * Charges an open invoice off session with the subscription's default PaymentMethod; returns the card
   * error when it declined. Paid: `status` paid. Declined: stays open, `next_payment_attempt` from the
   * retry schedule (null when no retry is left), when `schedule` is set.
   */
  attempt(invoice: Json, sub: Json, at: number, schedule = true): Json | null {
    invoice.attempt_count = Number(invoice.attempt_count) + 1;
    invoice.attempted = true;
    const { intent, error } = this.host.chargeOffSession({
      amount: Number(invoice.amount_due),
      currency: String(invoice.currency),
      customer: String(sub.customer),
      // The subscription's method, else the customer's invoice default (as Stripe chooses).
      paymentMethod: String(
        sub.default_payment_method ??
          (this.host.customers.get(String(sub.customer))?.invoice_settings as Json | undefined)?.default_payment_method,
      ),
      description: invoice.billing_reason === 'subscription_create' ? 'Subscription creation' : 'Subscription update',
    });
    (invoice.payments as { data: Json[] }).data.push({
      object: 'invoice_payment',
      payment: { type: 'payment_intent', payment_intent: intent.id },
      status: error ? 'open' : 'paid',
    });
    if (!error) {
      Object.assign(invoice, { status: 'paid', amount_paid: invoice.amount_due, amount_remaining: 0, next_payment_attempt: null });
      (invoice.status_transitions as Json).paid_at = at;
      return null;
    }
    const retryDays = this.options.retryDays ?? [3, 5, 7];
    const next = retryDays[Number(invoice.attempt_count) - 1];
    invoice.next_payment_attempt = schedule && next !== undefined ? at + next * 86_400 : null;
    return { ...error, payment_intent: clone(intent) };
  }

  private filterInvoices(p: Params): Json[] & { id: string }[] {
    const customer = p.str('customer');
    const subscription = p.str('subscription');
    const status = p.str('status');
    return [...this.host.invoices.values()]
      .reverse()
      .filter(
        (i) =>
          (!customer || i.customer === customer) &&
          (!subscription || (i.parent as { subscription_details?: Json } | null)?.subscription_details?.subscription === subscription) &&
          (!status || i.status === status),
      ) as Json[] & { id: string }[];
  }

  /** Pays an open invoice now (after the customer changed their method): as a retry, outside the schedule. */
  private payInvoiceRoute(req: EmulatorRequest, p: Params): EmulatorResponse {
    const invoice = this.host.invoices.get(req.params.id);
    if (!invoice) throw noSuch('invoice', req.params.id);
    if (invoice.status !== 'open') throw invalid(`Invoice is already ${String(invoice.status)}`, undefined, 'invoice_not_open');
    const subId = (invoice.parent as { subscription_details?: Json } | null)?.subscription_details?.subscription;
    const sub = this.subscription(String(subId));
    const error = this.attempt(invoice, sub, this.timeOf(String(sub.customer)));
    if (error) {
      void this.host.emit('invoice.payment_failed', invoice);
      throw new StripeRequestError(402, error, true);
    }
    void this.settled(sub, invoice);
    return this.host.respond(req, invoice, p.strings('expand'));
  }

  /** After an invoice was paid: the subscription is active again, with its events. */
  async settled(sub: Json, invoice: Json): Promise<void> {
    const previous = sub.status === 'active' ? null : { status: sub.status };
    sub.status = 'active';
    await this.host.emit('invoice.paid', invoice);
    if (previous) await this.host.emit('customer.subscription.updated', sub, previous);
  }
}
