import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  Chargeback,
  InvalidWebhookSignatureError,
  MercadoPagoConfig,
  MercadoPagoError,
  MPAuthenticationError,
  MPConnectionError,
  MPForbiddenError,
  MPIdempotencyError,
  MPNotFoundError,
  MPRateLimitError,
  MPServerError,
  Payment,
  PaymentRefund,
  Preference,
  WebhookSignatureValidator,
} from 'mercadopago';
import { AppConfig } from 'mercadopago/dist/utils/config';
import type { Env } from '../../../config/env';
import {
  ChargeInput,
  CreateCheckoutInput,
  PaymentProvider,
  ProviderCheckout,
  ProviderDeclineError,
  ProviderError,
  ProviderPayment,
  ProviderRefund,
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
import {
  eventIdOf,
  MercadoPagoChargebackPayload,
  MercadoPagoNotification,
  MercadoPagoPaymentPayload,
  parseChargeToken,
  preferenceItems,
  referenceFromAttemptKey,
  signatureTimestampMs,
  toConfirmedChargeback,
  toConfirmedEvent,
  toMercadoPagoAmount,
  refundStatusOf,
  toProviderPayment,
} from './mercadopago.mapper';
import { MercadoPagoSavedCards } from './mercadopago-saved-cards';
import { listMercadoPagoTransactions, sdkSearches } from './mercadopago-listing';

const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Errors of a connection that never reached the server: nothing was sent, nothing happened. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/** Bad-request causes that mean "this card token / payment method", not "our request". */
const PAYMENT_METHOD_CAUSES = new Set(['2006', '3003', '4033', '2062', '3034', '4292', '205', '221']);

type Operation = 'charge' | 'refund' | 'checkout' | 'read';

/**
 * Mercado Pago through its official SDK (v3): Checkout Pro preferences for hosted checkout, the
 * Payments API with a card token for direct charges, refunds, and webhooks verified with `x-signature`
 * and then confirmed by fetching the payment (a notification carries only an id).
 *
 * Two SDK facts shape this class. Its base URL is a process-wide constant (AppConfig.BASE_URL):
 * `client()` points it at MERCADOPAGO_API_BASE when that is set, the one place that does. And per-call
 * `requestOptions` are merged into the shared client config (so an idempotency key given to one call is
 * sent again by later calls on that client): every call here gets a fresh MercadoPagoConfig that carries
 * its own key, or none.
 */
@Injectable()
export class MercadoPagoProvider implements PaymentProvider {
  readonly id = 'mercadopago' as const;
  readonly configured: boolean;
  private readonly logger = new Logger(MercadoPagoProvider.name);
  private readonly accessToken: string;
  private readonly webhookSecret?: string;
  private readonly apiBase?: string;
  private readonly timeoutMs: number;
  private readonly notificationUrl?: string;
  private readonly cards = new MercadoPagoSavedCards(
    (key) => this.client(key),
    (operation, fn, passNotFound) => this.call(operation, fn, passNotFound),
  );

  constructor(config: ConfigService<Env, true>) {
    this.accessToken = config.get('MERCADOPAGO_ACCESS_TOKEN', { infer: true }) ?? '';
    this.configured = Boolean(this.accessToken);
    this.webhookSecret = config.get('MERCADOPAGO_WEBHOOK_SECRET', { infer: true });
    this.apiBase = config.get('MERCADOPAGO_API_BASE', { infer: true })?.replace(/\/+$/, '');
    this.timeoutMs = config.get('PROVIDER_TIMEOUT_MS', { infer: true });
    // Only a configured public URL: a notification_url overrides the account's webhook, and one that
    // Mercado Pago cannot reach (the listening address) would lose every notification.
    const publicUrl = config.get('PUBLIC_URL', { infer: true })?.replace(/\/+$/, '');
    this.notificationUrl = publicUrl ? `${publicUrl}/webhooks/mercadopago` : undefined;
  }

  async createCheckout(input: CreateCheckoutInput): Promise<ProviderCheckout> {
    const preference = await this.call('checkout', () =>
      new Preference(this.client(input.idempotencyKey)).create({
        body: {
          items: preferenceItems(input),
          payer: { email: input.customer.email, ...(input.customer.name ? { name: input.customer.name } : {}) },
          external_reference: input.reference,
          metadata: { merchant_id: input.merchantId, reference: input.reference },
          back_urls: { success: input.successUrl, failure: input.cancelUrl, pending: input.successUrl },
          auto_return: 'approved',
          ...(this.notificationUrl ? { notification_url: this.notificationUrl } : {}),
        },
      }),
    );
    // Test credentials (TEST-…) pay on the sandbox page; production credentials (and test users with
    // them) on init_point.
    const url = this.accessToken.startsWith('TEST-') ? preference.sandbox_init_point || preference.init_point : preference.init_point;
    if (!preference.id || !url) throw new ProviderError(this.id, 'Mercado Pago answered a preference without id or init_point');
    return { providerSessionId: preference.id, url };
  }

  /**
   * A card token (`<payment_method_id>:<token>`), or with `saved` a saved card: a token made from it and
   * the payment made for its Mercado Pago customer (MercadoPagoSavedCards).
   */
  async charge(input: ChargeInput): Promise<ProviderPayment> {
    const { paymentMethodId, cardToken } = input.saved
      ? await this.cards
          .tokenFor(input.saved, input.idempotencyKey)
          .then((t) => ({ paymentMethodId: t.paymentMethodId, cardToken: t.token }))
      : parseChargeToken(input.token);
    const payer = input.saved ? { type: 'customer', id: input.saved.providerCustomerRef } : { email: input.customer.email };
    const payment = await this.call('charge', () =>
      new Payment(this.client(input.idempotencyKey)).create({
        body: {
          transaction_amount: toMercadoPagoAmount(input.amount, input.currency),
          token: cardToken,
          ...(paymentMethodId ? { payment_method_id: paymentMethodId } : {}),
          installments: 1,
          payer,
          description: input.description,
          external_reference: input.reference,
          metadata: { merchant_id: input.merchantId, reference: input.reference, attempt_key: input.idempotencyKey },
          ...(this.notificationUrl ? { notification_url: this.notificationUrl } : {}),
        },
      }),
    );
    const result = toProviderPayment(payment);
    if (result.currency !== input.currency)
      this.logger.error(
        { providerRef: result.providerRef, expected: input.currency, got: result.currency },
        'Mercado Pago charged in the site currency, not the requested one',
      );
    if (result.status === 'declined') throw new ProviderDeclineError(this.id, result.declineCode ?? 'rejected', result.providerRef);
    return result;
  }

  /**
   * By Mercado Pago's payment id when we have it; otherwise by a search on external_reference (our
   * payment id: `reference`, or derived from the attempt key `<payment id>_<n>`), keeping only the payment
   * whose metadata carries this attempt's key (charge() puts it there). Mercado Pago cannot be searched
   * by X-Idempotency-Key. Null: Mercado Pago never created this charge.
   */
  async retrieve(lookup: { providerRef?: string | null; idempotencyKey: string; reference?: string }): Promise<ProviderPayment | null> {
    if (lookup.providerRef) {
      const found = await this.findPayment(lookup.providerRef);
      return found ? toProviderPayment(found) : null;
    }
    const reference = lookup.reference ?? referenceFromAttemptKey(lookup.idempotencyKey);
    const page = await this.call('read', () =>
      new Payment(this.client()).search({ options: { external_reference: reference, sort: 'date_created', criteria: 'desc' } }),
    );
    const results = (page.results ?? []) as MercadoPagoPaymentPayload[];
    const match = results.find((p) => p.metadata?.attempt_key === lookup.idempotencyKey);
    return match ? toProviderPayment(match) : null;
  }

  async refund(input: RefundInput): Promise<ProviderRefund> {
    const refund = await this.call('refund', () =>
      new PaymentRefund(this.client(input.idempotencyKey)).create({
        payment_id: input.providerRef,
        body: { amount: toMercadoPagoAmount(input.amount, input.currency) },
      }),
    );
    const status = refundStatusOf(refund);
    if (status === 'failed')
      throw new ProviderDeclineError(this.id, 'refund_refused', input.providerRef, `Mercado Pago ${refund.status} refund ${refund.id}.`);
    return { providerRefundId: String(refund.id), status };
  }

  async retrieveRefund(lookup: { providerRef: string; providerRefundId: string }): Promise<ProviderRefundStatus> {
    const refund = await this.call('read', () =>
      new PaymentRefund(this.client()).get({ payment_id: lookup.providerRef, refund_id: lookup.providerRefundId }),
    );
    return refundStatusOf(refund);
  }

  async cancel(providerRef: string): Promise<void> {
    try {
      await this.call('read', () => new Payment(this.client()).cancel({ id: providerRef }));
    } catch (err) {
      if (err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError || !(err instanceof ProviderError))
        throw err;
      // Mercado Pago cancels only payments still pending or in process: this one is past that.
    }
  }

  /** Saves the card of a card token on the customer's Mercado Pago customer (MercadoPagoSavedCards). */
  saveMethod(input: SaveMethodInput): Promise<ProviderSavedMethod> {
    return this.cards.save(input);
  }

  detachMethod(ref: SavedMethodRef): Promise<void> {
    return this.cards.detach(ref);
  }

  /**
   * A Checkout Pro preference has no cancel: it stays payable until its expiration. A payment that
   * still arrives for a canceled session is recorded (money moved; CheckoutEvents.complete).
   */
  async cancelCheckout(_providerSessionId: string): Promise<void> {}

  /**
   * Verifies `x-signature` (HMAC-SHA256 of `id:<data.id>;request-id:<x-request-id>;ts:<ts>;` with the
   * webhook secret, constant-time, by the SDK's validator) and the timestamp (300 s). The notification
   * names only a payment id: confirmEvent() fetches the payment before anything changes.
   */
  async parseWebhook(request: WebhookRequest): Promise<ProviderWebhookEvent> {
    if (!this.webhookSecret) throw new WebhookVerificationError('MERCADOPAGO_WEBHOOK_SECRET is not set');
    const signature = header(request.headers, 'x-signature');
    const requestId = header(request.headers, 'x-request-id');
    const dataId = queryValue(request.query, 'data.id');
    // x-request-id may be absent: the signed manifest then omits it, as Mercado Pago documents.
    if (!signature || !dataId) throw new WebhookVerificationError('Missing x-signature or data.id');
    try {
      // Mercado Pago signs alphanumeric ids in lower case (numeric payment ids are unchanged).
      WebhookSignatureValidator.validate({
        xSignature: signature,
        xRequestId: requestId,
        dataId: dataId.toLowerCase(),
        secret: this.webhookSecret,
      });
    } catch (err) {
      if (err instanceof InvalidWebhookSignatureError) throw new WebhookVerificationError(`Invalid x-signature (${err.reason})`);
      throw err;
    }
    const signedAt = signatureTimestampMs(signature);
    if (signedAt === null || Math.abs(Date.now() - signedAt) > SIGNATURE_TOLERANCE_SECONDS * 1000)
      throw new WebhookVerificationError('x-signature timestamp outside the tolerance');

    const notification = JSON.parse(request.rawBody.toString('utf8')) as MercadoPagoNotification;
    // The signature covers the query's data.id only: a body naming another payment is not this notification.
    if (notification.data?.id !== undefined && String(notification.data.id) !== dataId)
      throw new WebhookVerificationError('data.id of the body differs from the signed one');
    const type = notification.type ?? queryValue(request.query, 'type') ?? 'payment';
    return {
      eventId: eventIdOf(notification, dataId),
      type: notification.action ?? type,
      // Not known until confirmEvent() has fetched the payment. A chargeback moves money: confirmed or held.
      kind: type === 'chargebacks' ? 'dispute' : 'other',
      providerRef: type === 'payment' ? dataId : undefined,
      payload: notification,
    };
  }

  /**
   * Runs in the webhook worker before an event is applied: fetches the payment and maps what it is now
   * (approved, rejected, refunded…). Not a payment notification: left as 'other'. A payment Mercado
   * Pago does not know (a forged id) is not confirmed; an unreachable API is retried with backoff.
   */
  async confirmEvent(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent> {
    if (event.kind === 'dispute') return this.confirmChargeback(event);
    if (!event.providerRef) return event;
    const payment = await this.findPayment(event.providerRef);
    if (!payment) throw new WebhookVerificationError(`Mercado Pago has no payment ${event.providerRef}`);
    return toConfirmedEvent(event, payment);
  }

  /** Payments created in the window, their refunds and chargebacks, by the searches (mercadopago-listing.ts). */
  listTransactions(window: TransactionWindow): AsyncIterable<ProviderTransaction[]> {
    const searches = sdkSearches(
      () => this.client(),
      (fn) => this.call('read', fn),
    );
    return listMercadoPagoTransactions(searches.payments, searches.chargebacks, window);
  }

  // ---- SDK plumbing ----

  /**
   * A fresh SDK config per call (see the class comment), with our timeout and no SDK retries: a 5xx/429
   * must reach failover and the circuit breaker now, not after 7 s of backoff; our retries (client
   * Idempotency-Key, recovery job) reuse the same key. Also the one place the base URL is redirected.
   */
  private client(idempotencyKey?: string): MercadoPagoConfig {
    if (this.apiBase) (AppConfig as { BASE_URL: string }).BASE_URL = this.apiBase;
    return new MercadoPagoConfig({
      accessToken: this.accessToken,
      options: { timeout: this.timeoutMs, maxRetries: 0, ...(idempotencyKey ? { idempotencyKey } : {}) },
    });
  }

  /** A chargeback notification names only the chargeback: fetched, with the payment it disputes. */
  private async confirmChargeback(event: ProviderWebhookEvent): Promise<ProviderWebhookEvent> {
    const id = (event.payload as MercadoPagoNotification | null)?.data?.id;
    if (id === undefined) throw new WebhookVerificationError('A chargeback notification names no chargeback');
    let chargeback: MercadoPagoChargebackPayload | null;
    try {
      chargeback = (await this.call(
        'read',
        () => new Chargeback(this.client()).get({ id: String(id) }),
        true,
      )) as MercadoPagoChargebackPayload;
    } catch (err) {
      if (!(err instanceof MPNotFoundError)) throw err;
      chargeback = null;
    }
    if (!chargeback) throw new WebhookVerificationError(`Mercado Pago has no chargeback ${String(id)}`);
    const payment = chargeback.payment_id !== undefined ? await this.findPayment(String(chargeback.payment_id)) : null;
    if (!payment) throw new WebhookVerificationError(`Mercado Pago's chargeback ${String(id)} is on no payment it shows`);
    return toConfirmedChargeback(event, chargeback, payment);
  }

  private async findPayment(id: string): Promise<MercadoPagoPaymentPayload | null> {
    try {
      return (await this.call('read', () => new Payment(this.client()).get({ id }), true)) as MercadoPagoPaymentPayload;
    } catch (err) {
      if (err instanceof MPNotFoundError) return null;
      throw err;
    }
  }

  /**
   * Runs one SDK call and turns its failures into our typed errors:
   *   429, 5xx, 401/403 (our credentials), no connection     → ProviderUnavailableError (nothing happened)
   *   timeout or connection lost after sending, 409 (same key in flight) → ProviderUnknownOutcomeError
   *   400/404/422 on a charge → ProviderDeclineError (the card token or method was refused; final)
   *   400/404/422 on a refund → ProviderDeclineError('refund_refused')
   * `passNotFound` lets a read see MPNotFoundError itself.
   */
  private async call<T>(operation: Operation, fn: () => Promise<T>, passNotFound = false): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof MercadoPagoError)) throw err;
      if (passNotFound && err instanceof MPNotFoundError) throw err;
      if (
        err instanceof MPRateLimitError ||
        err instanceof MPServerError ||
        err instanceof MPAuthenticationError ||
        err instanceof MPForbiddenError
      )
        throw new ProviderUnavailableError(this.id, `Mercado Pago answered ${err.status}: ${err.message}`, { cause: err });
      if (err instanceof MPConnectionError) {
        if (notConnected(err)) throw new ProviderUnavailableError(this.id, `Mercado Pago unreachable: ${err.message}`, { cause: err });
        throw new ProviderUnknownOutcomeError(this.id, `No answer from Mercado Pago: ${err.message}`, { cause: err });
      }
      if (err instanceof MPIdempotencyError) throw new ProviderUnknownOutcomeError(this.id, `Mercado Pago: ${err.message}`, { cause: err });
      if (operation === 'charge') {
        const codes = err.causes.map((c) => String((c as { code?: unknown }).code ?? ''));
        const code = codes.some((c) => PAYMENT_METHOD_CAUSES.has(c)) ? 'invalid_payment_method' : 'invalid_request';
        throw new ProviderDeclineError(this.id, code, undefined, `Mercado Pago refused the payment (${err.status}): ${err.message}`);
      }
      if (operation === 'refund')
        throw new ProviderDeclineError(this.id, 'refund_refused', undefined, `Mercado Pago refused the refund: ${err.message}`);
      throw new ProviderError(this.id, `Mercado Pago answered ${err.status}: ${err.message}`, { cause: err });
    }
  }
}

/** Whether a connection error happened before anything was sent (refused, DNS, unreachable). */
function notConnected(err: MPConnectionError): boolean {
  let cause: unknown = (err as unknown as { __cause__?: unknown }).__cause__;
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_CONNECTED.has(code)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

function header(headers: WebhookRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}

function queryValue(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof first === 'string' || typeof first === 'number' ? String(first).trim() || undefined : undefined;
}
