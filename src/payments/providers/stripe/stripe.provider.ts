// Over 400 lines (405) for now: the Stripe adapter's whole contract; mappers, errors, amounts, settlement, saved
// methods, subscriptions and listing already live in their own files. Next split: the webhook parsing and confirmation.
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import Stripe from 'stripe';
import type { Env } from '../../../config/env';
import { PublicUrl } from '../../../common/public-url';
import {
  ChargeInput,
  CreateCheckoutInput,
  PaymentProvider,
  ProviderCheckout,
  ProviderDeclineError,
  ProviderPayment,
  ProviderRefund,
  ProviderSettlement,
  ProviderRefundStatus,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  ProviderTransaction,
  ProviderWebhookEvent,
  ProviderSavedMethod,
  RefundInput,
  SavedMethodRef,
  SaveMethodInput,
  TransactionWindow,
  WebhookRequest,
  WebhookVerificationError,
} from '../payment-provider';
import { toProviderSettlement } from './stripe-settlement.mapper';
import { isMissingResource, isServerError, missingAsNull, StripeOperation, toProviderError } from './stripe-errors';
import { listStripeTransactions } from './stripe-listing';
import {
  checkoutSessionParams,
  isDisputeEventType,
  METADATA,
  paymentIntentParams,
  toProviderPayment,
  toProviderRefund,
  refundStatusOf,
  sessionIsOpen,
  toStripeAmount,
  toWebhookEvent,
} from './stripe.mapper';
import { customerParams, toSavedMethod } from './stripe-saved-methods.mapper';
import { apiBase } from './stripe-amounts';
import { StripeSubscriptions } from './stripe-subscriptions';

/** Stripe's default, and what the webhook endpoint allows between signing and receipt. */
const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * How far back retrieve() looks for an intent by our idempotency key, and how many list pages (100
 * each, newest first) it reads at most. Stripe keeps idempotency keys 24 h, and recovery settles
 * payments within PAYMENT_PENDING_DEADLINE_HOURS (72 h by default).
 */
const LOOKUP_WINDOW_SECONDS = 4 * 24 * 3600;
const LOOKUP_MAX_PAGES = 10;

/** The events that are confirmed against the object they are about, and the states that confirm them. */
const STRIPE_CONFIRMATIONS: Readonly<Record<string, { object: 'checkout.session' | 'payment_intent'; states: readonly string[] }>> = {
  'checkout.session.completed': { object: 'checkout.session', states: ['paid', 'no_payment_required', 'unpaid'] },
  'checkout.session.async_payment_succeeded': { object: 'checkout.session', states: ['paid'] },
  'payment_intent.succeeded': { object: 'payment_intent', states: ['succeeded'] },
};

/** Where the customer lands after 3-D Secure when the request gave no returnUrl (StripeReturnController). */
export const DEFAULT_RETURN_PATH = '/stripe/return';

/**
 * Stripe through its official SDK: hosted checkout (Checkout Sessions), direct charges (PaymentIntents
 * confirmed with a PaymentMethod id), saved methods (PaymentMethods attached to a Stripe Customer, charged
 * off session), refunds, lookups for recovery, and verified webhooks.
 *
 * The SDK is set to `maxNetworkRetries: 0`: failover, the circuit breaker and recovery by retrieve()
 * decide what a failure means, and an SDK retry would double the time a caller waits before they can.
 * stripe-node still retries a reset connection once (with our Idempotency-Key, so it cannot charge
 * twice). Every POST carries the key we are given.
 */
@Injectable()
export class StripeProvider implements PaymentProvider {
  readonly id = 'stripe' as const;
  readonly configured: boolean;
  private readonly logger = new Logger(StripeProvider.name);
  private readonly stripe: Stripe | null;
  private readonly webhookSecret?: string;
  /** Requests the SDK sent per idempotency key for calls in flight (see toProviderError). */
  private readonly attempts = new Map<string, number>();
  private readonly billing = new StripeSubscriptions((operation, key, call) => this.send(operation, key, call));

  constructor(
    config: ConfigService<Env, true>,
    private readonly publicUrl: PublicUrl,
  ) {
    const secretKey = config.get('STRIPE_SECRET_KEY', { infer: true });
    this.configured = Boolean(secretKey);
    this.webhookSecret = config.get('STRIPE_WEBHOOK_SECRET', { infer: true });
    this.stripe = secretKey
      ? new Stripe(secretKey, {
          ...apiBase(config.get('STRIPE_API_BASE', { infer: true })),
          timeout: config.get('PROVIDER_TIMEOUT_MS', { infer: true }),
          maxNetworkRetries: 0,
          appInfo: { name: 'Paybridge' },
        })
      : null;
    this.stripe?.on('request', (event: { idempotency_key?: string }) => {
      const key = event.idempotency_key;
      if (key && this.attempts.has(key)) this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    });
  }

  async createCheckout(input: CreateCheckoutInput): Promise<ProviderCheckout> {
    const session = await this.send('checkout', input.idempotencyKey, (stripe) =>
      stripe.checkout.sessions.create(checkoutSessionParams(input), { idempotencyKey: input.idempotencyKey }),
    );
    if (!session.url) throw new ProviderUnavailableError(this.id, `Stripe returned checkout session ${session.id} without a URL`);
    return { providerSessionId: session.id, url: session.url };
  }

  async charge(input: ChargeInput): Promise<ProviderPayment> {
    const returnUrl = input.returnUrl ?? `${this.publicUrl.base()}${DEFAULT_RETURN_PATH}`;
    let payment: ProviderPayment;
    try {
      const intent =
        input.saved && input.subscription
          ? await this.billing.start({ ...input, saved: input.saved, subscription: input.subscription })
          : await this.send('money', input.idempotencyKey, (stripe) =>
              stripe.paymentIntents.create(paymentIntentParams(input, returnUrl), { idempotencyKey: input.idempotencyKey }),
            );
      payment = toProviderPayment(intent);
    } catch (err) {
      payment = await this.afterServerError(err, () => this.findIntentByKey(input.idempotencyKey));
    }
    if (payment.status === 'declined')
      throw new ProviderDeclineError(this.id, payment.declineCode ?? 'generic_decline', payment.providerRef);
    return payment;
  }

  /**
   * By PaymentIntent id when we have it; otherwise the intent created under our idempotency key. Stripe
   * has no lookup by idempotency key, and its Search API is eventually consistent (an intent can take
   * a minute to appear, exactly when a lost answer is being recovered), so this lists recent intents
   * (newest first, bounded) and matches `metadata.paybridge_key`, which every charge carries.
   */
  async retrieve(lookup: { providerRef?: string | null; idempotencyKey: string }): Promise<ProviderPayment | null> {
    if (lookup.providerRef) {
      const providerRef = lookup.providerRef;
      const intent = await this.send('read', null, (stripe) =>
        stripe.paymentIntents.retrieve(providerRef, { expand: ['latest_charge'] }).catch((err: unknown) => {
          if (isMissingResource(err)) return null;
          throw err;
        }),
      );
      if (intent) return toProviderPayment(intent);
    }
    return this.findIntentByKey(lookup.idempotencyKey);
  }

  /** The charge's balance transaction (Stripe's fee, available_on, pending/available), through the intent. */
  async retrieveSettlement(providerRef: string): Promise<ProviderSettlement | null> {
    const intent = await this.send('read', null, (stripe) =>
      stripe.paymentIntents.retrieve(providerRef, { expand: ['latest_charge.balance_transaction'] }),
    );
    return toProviderSettlement(intent);
  }

  async refund(input: RefundInput): Promise<ProviderRefund> {
    let refund: Stripe.Refund;
    try {
      refund = await this.send('money', input.idempotencyKey, (stripe) =>
        stripe.refunds.create(
          {
            payment_intent: input.providerRef,
            amount: toStripeAmount(input.amount, input.currency),
            metadata: { [METADATA.key]: input.idempotencyKey },
          },
          { idempotencyKey: input.idempotencyKey },
        ),
      );
    } catch (err) {
      refund = await this.afterServerError(err, () => this.findRefundByKey(input.providerRef, input.idempotencyKey));
    }
    const result = toProviderRefund(refund);
    if (!result) throw new ProviderDeclineError(this.id, 'refund_failed', input.providerRef, `Stripe did not make refund ${refund.id}.`);
    return result;
  }

  async retrieveRefund(lookup: { providerRef: string; providerRefundId: string }): Promise<ProviderRefundStatus> {
    const refund = await this.send('read', null, (stripe) => stripe.refunds.retrieve(lookup.providerRefundId));
    return refundStatusOf(refund);
  }

  async cancel(providerRef: string): Promise<void> {
    await this.send('read', null, (stripe) =>
      stripe.paymentIntents.cancel(providerRef).catch((err: unknown) => {
        // Stripe refuses to cancel an intent that succeeded or was canceled: nothing to do.
        if (err instanceof Stripe.errors.StripeInvalidRequestError) return null;
        throw err;
      }),
    );
  }

  /** Expires the session at Stripe; one that is already expired or complete is left as it is. */
  async cancelCheckout(providerSessionId: string): Promise<void> {
    await this.send('read', null, async (stripe) => {
      try {
        await stripe.checkout.sessions.expire(providerSessionId);
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
        const session = await stripe.checkout.sessions.retrieve(providerSessionId);
        if (sessionIsOpen(session.status)) throw err;
      }
    });
  }

  /**
   * Attaches the PaymentMethod to the customer's Stripe Customer (created with our customer id in its
   * metadata when we hold none yet). Each call carries its own key derived from ours. A card Stripe
   * refuses to attach (its card check declines, a PaymentMethod spent or attached elsewhere) is a
   * ProviderDeclineError; a lost answer is ProviderUnknownOutcomeError (retry with the same key).
   */
  async saveMethod(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    const customerRef =
      input.providerCustomerRef ??
      (
        await this.send('read', `${input.idempotencyKey}:customer`, (stripe) =>
          stripe.customers.create(customerParams(input), { idempotencyKey: `${input.idempotencyKey}:customer` }),
        )
      ).id;
    const pm = await this.send('money', `${input.idempotencyKey}:attach`, (stripe) =>
      stripe.paymentMethods.attach(input.token, { customer: customerRef }, { idempotencyKey: `${input.idempotencyKey}:attach` }),
    );
    const saved = toSavedMethod(customerRef, pm);
    if (!saved) throw new ProviderDeclineError(this.id, 'invalid_payment_method', undefined, `Stripe PaymentMethod ${pm.id} is not a card`);
    return saved;
  }

  /** Detaches it at Stripe; one already detached (or unknown to Stripe) stays so. */
  async detachMethod(ref: SavedMethodRef): Promise<void> {
    await this.send('read', null, async (stripe) => {
      try {
        await stripe.paymentMethods.detach(ref.providerMethodRef);
      } catch (err) {
        if (isMissingResource(err)) return;
        if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
        const pm = await stripe.paymentMethods.retrieve(ref.providerMethodRef);
        if (pm.customer) throw err;
      }
    });
  }

  /** The Stripe subscription the charge `firstChargeRef` (its first invoice's) started: canceled, at period end, its method. */
  cancelSubscription = (firstChargeRef: string): Promise<void> => this.billing.cancel(firstChargeRef);
  setCancelAtPeriodEnd = (firstChargeRef: string, cancel: boolean): Promise<void> =>
    this.billing.setCancelAtPeriodEnd(firstChargeRef, cancel);
  setSubscriptionMethod = (firstChargeRef: string, method: SavedMethodRef): Promise<void> => this.billing.setMethod(firstChargeRef, method);

  /**
   * Verifies `Stripe-Signature` on the raw body with the SDK (HMAC-SHA256, 300 s tolerance; any of
   * several `v1` signatures may match, which is how Stripe signs while a secret is being rolled).
   */
  async parseWebhook(request: WebhookRequest): Promise<ProviderWebhookEvent> {
    if (!this.stripe || !this.webhookSecret)
      throw new WebhookVerificationError('Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).');
    const header = request.headers['stripe-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!signature) throw new WebhookVerificationError('Missing Stripe-Signature header');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(request.rawBody, signature, this.webhookSecret, SIGNATURE_TOLERANCE_SECONDS);
    } catch (err) {
      if (err instanceof SyntaxError) throw err;
      throw new WebhookVerificationError(err instanceof Error ? err.message.split('\n')[0] : 'Invalid Stripe-Signature');
    }
    return toWebhookEvent(event);
  }

  /**
   * Runs in the webhook worker before an event is applied: the Checkout Session or PaymentIntent the
   * event is about is retrieved from Stripe and the event mapped again from what Stripe holds now, so
   * its amount, currency and references are Stripe's, not the event's. One that is not in the state
   * the event reports (or that Stripe does not know) is not confirmed. Refund reports pass as they are:
   * RefundsService asks retrieve() what Stripe shows refunded.
   */
  async confirmEvent(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent> {
    const reported = (event.payload as { data?: { object?: { id?: unknown } } } | null)?.data?.object?.id;
    const id = typeof reported === 'string' ? reported : '';
    if (isDisputeEventType(event.type)) return this.confirmDispute(event, id);
    if (event.kind === 'subscription.canceled') return this.billing.confirmDeleted(event, id);
    if (event.kind.startsWith('renewal.')) return (await this.billing.confirmInvoice(event, id)) ?? { ...event, kind: 'other' };
    const confirmation = STRIPE_CONFIRMATIONS[event.type];
    if (!confirmation) return event;
    if (!id) throw new WebhookVerificationError(`${event.type} ${event.eventId} names no ${confirmation.object}`);
    const retrieve = (stripe: Stripe): Promise<Stripe.Checkout.Session | Stripe.PaymentIntent> =>
      confirmation.object === 'checkout.session' ? stripe.checkout.sessions.retrieve(id) : stripe.paymentIntents.retrieve(id);
    const object = await this.send('read', null, (stripe) =>
      retrieve(stripe).catch((err: unknown) => {
        if (isMissingResource(err)) return null;
        throw err;
      }),
    );
    if (!object) throw new WebhookVerificationError(`Stripe has no ${confirmation.object} ${id}`);
    const state = object.object === 'checkout.session' ? object.payment_status : object.status;
    if (!state || !confirmation.states.includes(state))
      throw new WebhookVerificationError(`Stripe shows ${confirmation.object} ${id} as ${state ?? 'unknown'}, not ${event.type}`);
    return { ...toWebhookEvent({ id: event.eventId, type: event.type, data: { object } }), payload: event.payload };
  }

  /**
   * A dispute event as Stripe shows the dispute now (retrieved, whatever the event said), with the merchant
   * and reference of its PaymentIntent's metadata (a dispute carries none of its own).
   */
  private async confirmDispute(event: ProviderWebhookEvent, id: string): Promise<ProviderWebhookEvent> {
    if (!id) throw new WebhookVerificationError(`${event.type} ${event.eventId} names no dispute`);
    const dispute = await this.send('read', null, (stripe) => missingAsNull(stripe.disputes.retrieve(id)));
    if (!dispute) throw new WebhookVerificationError(`Stripe has no dispute ${id}`);
    const confirmed = toWebhookEvent({ id: event.eventId, type: event.type, data: { object: dispute } });
    const intentId = confirmed.dispute?.chargeRef;
    const intent = intentId?.startsWith('pi_')
      ? await this.send('read', null, (stripe) => missingAsNull(stripe.paymentIntents.retrieve(intentId)))
      : null;
    if (!intent) throw new WebhookVerificationError(`Stripe's dispute ${id} is not on a PaymentIntent of ours`);
    return {
      ...confirmed,
      merchantId: intent.metadata?.[METADATA.merchantId] || undefined,
      reference: intent.metadata?.[METADATA.reference] || undefined,
      payload: event.payload,
    };
  }

  /** The merchant's case as uncategorized text, submitted (the dispute goes under review). */
  async submitDisputeEvidence(providerDisputeId: string, text: string): Promise<void> {
    await this.send('read', null, (stripe) =>
      stripe.disputes.update(providerDisputeId, { evidence: { uncategorized_text: text }, submit: true }),
    );
  }

  /** PaymentIntents, refunds and disputes created in the window, a page at a time (stripe-listing.ts). */
  listTransactions(window: TransactionWindow): AsyncIterable<ProviderTransaction[]> {
    if (!this.stripe) throw new ProviderUnavailableError(this.id, 'Stripe is not configured (STRIPE_SECRET_KEY).');
    return listStripeTransactions(this.stripe, window);
  }

  // ---- internals ----

  /** Runs one SDK call and turns its failure into our typed errors. */
  private async send<T>(operation: StripeOperation, idempotencyKey: string | null, call: (stripe: Stripe) => Promise<T>): Promise<T> {
    if (!this.stripe) throw new ProviderUnavailableError(this.id, 'Stripe is not configured (STRIPE_SECRET_KEY).');
    if (idempotencyKey) this.attempts.set(idempotencyKey, 0);
    try {
      return await call(this.stripe);
    } catch (err) {
      const attempts = idempotencyKey ? (this.attempts.get(idempotencyKey) ?? 1) : 1;
      const mapped = toProviderError(err, operation, attempts);
      if (mapped !== err) (mapped as { cause?: unknown }).cause = err;
      throw mapped;
    } finally {
      if (idempotencyKey) this.attempts.delete(idempotencyKey);
    }
  }

  /**
   * Stripe documents a 5xx answer as indeterminate: the request may have been carried out. Before a money
   * call is reported as "nothing happened" (which lets the caller fail over), look for its result; when
   * the lookup itself fails, the outcome is unknown.
   */
  private async afterServerError<T>(err: unknown, find: () => Promise<T | null>): Promise<T> {
    if (!(err instanceof ProviderUnavailableError) || !isServerError((err as { cause?: unknown }).cause)) throw err;
    let found: T | null;
    try {
      found = await find();
    } catch (lookupError) {
      this.logger.warn({ err: lookupError }, 'Stripe answered 5xx and the lookup failed: outcome unknown');
      throw new ProviderUnknownOutcomeError(this.id, `${err.message} (and the lookup of its result failed)`);
    }
    if (found === null) throw err;
    return found;
  }

  private async findIntentByKey(idempotencyKey: string): Promise<ProviderPayment | null> {
    const since = Math.floor(Date.now() / 1000) - LOOKUP_WINDOW_SECONDS;
    let startingAfter: string | undefined;
    for (let page = 0; page < LOOKUP_MAX_PAGES; page++) {
      const list = await this.send('read', null, (stripe) =>
        stripe.paymentIntents.list({
          created: { gte: since },
          limit: 100,
          expand: ['data.latest_charge'],
          ...(startingAfter ? { starting_after: startingAfter } : {}),
        }),
      );
      const match = list.data.find((pi) => pi.metadata?.[METADATA.key] === idempotencyKey);
      if (match) return toProviderPayment(match);
      if (!list.has_more || list.data.length === 0) return null;
      startingAfter = list.data[list.data.length - 1].id;
    }
    this.logger.warn({ pages: LOOKUP_MAX_PAGES }, 'Stripe intent lookup by key stopped at its page limit');
    return null;
  }

  private async findRefundByKey(paymentIntent: string, idempotencyKey: string): Promise<Stripe.Refund | null> {
    const list = await this.send('read', null, (stripe) => stripe.refunds.list({ payment_intent: paymentIntent, limit: 100 }));
    return list.data.find((r) => r.metadata?.[METADATA.key] === idempotencyKey) ?? null;
  }
}

export { apiBase } from './stripe-amounts';
