// Over 400 lines (428) for now: one checkout session's whole life (create, open at a provider, the hosted
// page's continue, saving the method, cancel), merged from three branches this session. Next split: the
// card-saving rules (saveMethodFor, savingAt) and the provider-page opening into their own class.
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AuthContext } from '../../auth/auth.types';
import type { Env } from '../../config/env';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import { newId } from '../../common/ids';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { errorResponse, successResponse } from '../../common/idempotency/idempotency.interceptor';
import { PhasedOperation, Phases } from '../../common/idempotency/phased-operation';
import { CustomersRepository } from '../../customers/customers.repository';
import { PublicUrl } from '../../common/public-url';
import { PaymentMethodsRepository } from '../../customers/payment-methods.repository';
import { DatabaseService } from '../../database/database.service';
import type { Executor, Transaction } from '../../database/database.types';
import { OutboxRepository } from '../../events/outbox.repository';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import { FraudService } from '../../fraud/fraud.service';
import { CircuitBreakerService } from '../circuit-breaker/circuit-breaker.service';
import { CheckoutSessionsRepository } from './checkout-sessions.repository';
import type { CheckoutSession } from './checkout-sessions.types';
import type { CreateCheckoutDto } from '../dto/checkout.dto';
import { ProvidersUnavailableError } from '../payment-errors';
import { PaymentHooks } from '../payment-hooks';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import type { Line } from '../payments.types';
import { PricingService } from '../pricing.service';
import { ProviderId, ProviderUnavailableError, ProviderUnknownOutcomeError } from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { ProviderRouter } from '../routing/provider-router';

const SESSION_CREATED = 'session_created';

/**
 * What another module adds to a checkout it creates (gift-card purchases): pre-priced lines, rows
 * written in the session's own transaction, and its own response body.
 */
export interface CheckoutExtension {
  lines?: Line[];
  onCreated?(tx: Executor, session: { merchantId: string; id: string; customerId: string }): Promise<void>;
  respond?(session: CheckoutSession): Promise<unknown>;
}

/**
 * Hosted checkout. Creating a session records it and its pending payment, then opens it at the first
 * available provider of the currency's routing (failing over while providers are unavailable). The
 * session completes only through a verified provider webhook (CheckoutEvents).
 */
@Injectable()
export class CheckoutService {
  private readonly logger = new Logger(CheckoutService.name);
  private readonly expiryHours: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly sessions: CheckoutSessionsRepository,
    private readonly payments: PaymentsRepository,
    private readonly customers: CustomersRepository,
    private readonly phases: Phases,
    private readonly pricing: PricingService,
    private readonly registry: ProviderRegistry,
    private readonly router: ProviderRouter,
    private readonly outcomes: PaymentOutcomes,
    private readonly outbox: OutboxRepository,
    private readonly breaker: CircuitBreakerService,
    private readonly fraud: FraudService,
    private readonly holds: GiftCardHolds,
    private readonly publicUrl: PublicUrl,
    private readonly hooks: PaymentHooks,
    private readonly methods: PaymentMethodsRepository,
    config: ConfigService<Env, true>,
  ) {
    this.expiryHours = config.get('CHECKOUT_EXPIRY_HOURS', { infer: true });
  }

  async create(
    caller: AuthContext,
    dto: CreateCheckoutDto,
    idem: IdempotencyContext,
    clientIp: string | null,
    extension: CheckoutExtension = {},
  ): Promise<unknown> {
    const merchantId = caller.merchantId;
    const op = this.phases.live(idem);
    if (op.resumesFrom(SESSION_CREATED)) {
      const existing = await this.sessions.findByIdempotencyKey(merchantId, op.key);
      if (!existing) throw new DomainError('conflict', 'idempotency_state_invalid', 'This key has no checkout session to resume.');
      const candidates =
        existing.savePaymentMethod && existing.provider ? [existing.provider] : this.router.candidates(existing.currency, dto.provider);
      return this.openAtProvider(op, existing, candidates, extension);
    }
    const verdict = await this.fraud.assess({ merchantId, ip: clientIp, email: dto.customer.email, country: dto.customer.country ?? null });
    if (!verdict.allowed) throw this.fraud.errorFor(verdict); // nothing written: no payment exists yet
    const routed = this.router.candidates(dto.currency, dto.provider);
    const cart = extension.lines
      ? await this.pricing.applyCoupon(
          merchantId,
          { lines: extension.lines, subtotal: extension.lines.reduce((sum, l) => sum + l.amount, 0) },
          dto.currency,
          dto.couponCode,
          dto.customer.email,
        )
      : await this.pricing.priceWithCoupon(merchantId, dto.items, dto.currency, caller.kind, dto.couponCode, dto.customer.email);
    // A cart with subscriptions saves its method for the renewals; so does savePaymentMethod: true.
    const saving = cart.lines.some((l) => l.interval) || dto.savePaymentMethod === true;
    if (saving) this.hooks.check(merchantId, cart, routed[0] ?? null);
    const candidates = await this.available(saving ? this.savingAt(routed[0]) : routed);
    // A gift card pays first (held with the session); the hosted page charges the rest.
    const card = dto.giftCardCode ? await this.holds.quote(merchantId, dto.giftCardCode, cart.total, dto.currency) : null;
    if (card && card.amount === cart.total) {
      throw new DomainError(
        'unprocessable',
        'gift_card_covers_total',
        'The gift card covers the whole cart: pay it with POST /payments/process and giftCardCode.',
        {
          param: 'giftCardCode',
        },
      );
    }
    const paidByCard = card?.amount ?? 0;
    const sessionId = newId('cs');
    const paymentId = newId('pay');
    await op.record(SESSION_CREATED, async (tx) => {
      const customer = await this.customers.upsertByEmail(tx, merchantId, dto.customer);
      await this.payments.insert(
        {
          merchantId,
          id: paymentId,
          status: 'pending',
          amount: cart.total,
          currency: dto.currency,
          provider: candidates[0],
          customer: { id: customer.id },
          checkoutSessionId: sessionId,
          lines: cart.lines,
          discount: cart.discount,
          fx: cart.fx ?? null,
          idempotencyKey: null,
          retryOf: null,
          metadata: dto.metadata ?? {},
          couponCode: cart.couponCode,
          giftCardCode: card?.code ?? null,
          giftCardAmount: paidByCard,
        },
        null,
        tx,
      );
      await this.sessions.insert(
        {
          merchantId,
          id: sessionId,
          currency: dto.currency,
          subtotal: cart.subtotal,
          discount: cart.discount,
          giftCardApplied: paidByCard,
          total: cart.total - paidByCard,
          lines: cart.lines,
          customerId: customer.id,
          provider: candidates[0],
          successUrl: dto.successUrl,
          cancelUrl: dto.cancelUrl,
          paymentId,
          metadata: dto.metadata ?? {},
          idempotencyKey: op.key,
          expiresInHours: this.expiryHours,
          couponCode: cart.couponCode,
          giftCardCode: card?.code ?? null,
          savePaymentMethod: saving,
        },
        tx,
      );
      if (saving) {
        // The subscriptions (incomplete) beside the session's payment, as a direct charge records them.
        this.hooks.recorded(tx, {
          merchantId,
          paymentId,
          customerId: customer.id,
          provider: candidates[0],
          paymentMethodId: null,
          cart,
          currency: dto.currency,
        });
      }
      if (card) await this.holds.hold(tx, merchantId, card.code, card.amount, dto.currency, sessionId);
      this.pricing.reserveCoupon(tx, merchantId, cart, {
        sessionId,
        paymentId,
        customerEmail: customer.email,
        currency: dto.currency,
      });
      await extension.onCreated?.(tx, { merchantId, id: sessionId, customerId: customer.id });
    });
    return this.openAtProvider(op, (await this.sessions.findById(merchantId, sessionId)) as CheckoutSession, candidates, extension);
  }

  async get(merchantId: string, id: string): Promise<CheckoutSession> {
    const session = await this.sessions.findById(merchantId, id);
    if (!session) throw new NotFoundError('checkout session', id);
    return this.withHostedUrl(session);
  }

  /** The hosted page's lookup by the id alone (the page's capability); null when there is none. */
  async findForHostedPage(id: string): Promise<CheckoutSession | null> {
    const session = await this.sessions.findByIdAnyMerchant(id);
    return session && this.withHostedUrl(session);
  }

  withHostedUrl(session: CheckoutSession): CheckoutSession {
    return { ...session, hostedUrl: `${this.publicUrl.base()}/pay/${session.id}` };
  }

  /**
   * The hosted page sends the customer to `provider` (one that serves the currency), whose page returns a
   * decline to `returnUrl` (the hosted page, to try again): the session is opened there anew and its
   * previous provider page closed (unless the session's page there already returns here: then that one).
   * Opening moves no money.
   */
  async reopenAt(merchantId: string, id: string, provider: ProviderId, returnUrl: string): Promise<CheckoutSession> {
    const session = await this.get(merchantId, id);
    if (session.status !== 'open')
      throw new DomainError('unprocessable', 'checkout_not_open', `The checkout session is ${session.status}.`, { param: 'id' });
    if (!this.hostedProviders(session).includes(provider)) {
      throw new DomainError('unprocessable', 'provider_not_available', `${provider} does not take ${session.currency}.`, {
        param: 'provider',
      });
    }
    // Its page already returns here (a retry after a decline, a second click): the same page again.
    if (session.provider === provider && session.url && session.providerPageReturnsToHosted) return session;
    if (!(await this.breaker.allows(provider)))
      throw new ProvidersUnavailableError(`${provider} is unavailable (circuit open). Retry later.`);
    let opened: { providerSessionId: string; url: string };
    try {
      opened = await this.openPage(session, provider, {
        cancelUrl: returnUrl,
        // One provider page per state the page leaves: a repeat of this request gets the same page; coming
        // back to a provider after another was chosen opens a new one (the earlier one was closed).
        idempotencyKey: `${session.id}_${provider}_after_${session.providerSessionId ?? 'none'}`,
      });
      await this.breaker.recordSuccess(provider);
    } catch (err) {
      if (err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError) {
        await this.breaker.recordFailure(provider);
        throw new ProvidersUnavailableError(`${provider} is unavailable. Retry later or choose another.`);
      }
      throw err;
    }
    const attached = await this.db.transaction(async (tx) => {
      const locked = await this.sessions.findByIdForUpdate(merchantId, id, tx);
      if (locked?.status !== 'open') return false;
      // Another request moved the session meanwhile: its page stands, this one is closed below.
      if (locked.providerSessionId !== session.providerSessionId && locked.providerSessionId !== opened.providerSessionId) return false;
      await this.sessions.attachProvider(merchantId, id, provider, opened.providerSessionId, opened.url, tx, true);
      const payment = locked.paymentId ? await this.payments.findById(merchantId, locked.paymentId, tx) : null;
      if (payment?.status === 'pending') await this.payments.setProvider(merchantId, payment.id, provider, tx);
      return true;
    });
    if (!attached) {
      await this.closeAtProvider({ ...session, provider, providerSessionId: opened.providerSessionId });
      const current = await this.get(merchantId, id);
      if (current.status !== 'open')
        throw new DomainError('unprocessable', 'checkout_not_open', `The checkout session is ${current.status}.`);
      return current;
    }
    if (session.providerSessionId !== opened.providerSessionId) await this.closeAtProvider(session);
    return this.get(merchantId, id);
  }

  /**
   * An open session can be canceled; its pending payment is canceled with it. Canceling a canceled session
   * answers it again, unless `onlyIfOpen` (the hosted page replacing it: a second, concurrent replacement
   * must not go on).
   */
  async cancel(merchantId: string, id: string, onlyIfOpen = false): Promise<CheckoutSession> {
    const session = await this.db.transaction(async (tx) => {
      const current = await this.sessions.findByIdForUpdate(merchantId, id, tx);
      if (!current) throw new NotFoundError('checkout session', id);
      if (current.status === 'canceled' && !onlyIfOpen) return current;
      if (current.status !== 'open')
        throw new DomainError('unprocessable', 'checkout_not_open', `The checkout session is ${current.status}.`, { param: 'id' });
      await this.sessions.transition(merchantId, id, ['open'], 'canceled', tx);
      await this.cancelPendingPayment(current, 'checkout_canceled', tx);
      return current;
    });
    await this.closeAtProvider(session);
    return this.get(merchantId, id);
  }

  /** The expiry job: an open session past its expiry becomes expired; its pending payment is canceled. */
  async expire(merchantId: string, id: string): Promise<boolean> {
    const session = await this.db.transaction(async (tx) => {
      const current = await this.sessions.findByIdForUpdate(merchantId, id, tx);
      if (!current || !(await this.sessions.transition(merchantId, id, ['open'], 'expired', tx))) return null;
      await this.cancelPendingPayment(current, 'checkout_expired', tx);
      await this.outbox.insert([checkoutEvent(current, 'checkout.expired')], tx);
      return current;
    });
    if (session) await this.closeAtProvider(session);
    return session !== null;
  }

  /** Opens the session at the first provider that answers; all unavailable: the session is canceled. */
  private async openAtProvider(
    op: PhasedOperation,
    session: CheckoutSession,
    candidates: ProviderId[],
    extension: CheckoutExtension,
  ): Promise<unknown> {
    if (session.url || session.status !== 'open') return this.opened(op, session, extension);
    for (const [i, providerId] of candidates.entries()) {
      if (i > 0 && !(await this.breaker.allows(providerId))) continue; // the first was asked by available()
      try {
        const opened = await this.openPage(session, providerId, {
          cancelUrl: session.cancelUrl,
          idempotencyKey: `${session.id}_${providerId}`,
        });
        await this.breaker.recordSuccess(providerId);
        await this.db.transaction(async (tx) => {
          await this.sessions.attachProvider(session.merchantId, session.id, providerId, opened.providerSessionId, opened.url, tx);
          if (session.paymentId) await this.payments.setProvider(session.merchantId, session.paymentId, providerId, tx);
        });
        return this.opened(op, (await this.sessions.findById(session.merchantId, session.id)) as CheckoutSession, extension);
      } catch (err) {
        // Opening a hosted page moves no money: an unknown outcome is as safe to fail over as an outage.
        if (!(err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError)) throw err;
        await this.breaker.recordFailure(providerId);
        this.logger.warn({ sessionId: session.id, provider: providerId }, 'provider unavailable for checkout; trying the next');
      }
    }
    const error = new ProvidersUnavailableError();
    await op.finish(
      async (tx) => {
        await this.sessions.transition(session.merchantId, session.id, ['open'], 'canceled', tx);
        await this.cancelPendingPayment(session, 'provider_unavailable', tx);
      },
      () => errorResponse(error, op.requestId),
    );
    throw error;
  }

  /** The providers a session's page may go on to: those of its currency; for one that saves the method, those whose page can. */
  hostedProviders(session: CheckoutSession): ProviderId[] {
    const candidates = this.router.candidates(session.currency);
    return session.savePaymentMethod ? candidates.filter((p) => this.registry.get(p).savesOnHostedPage) : candidates;
  }

  /** Opens the session's page at a provider (the caller records it and the circuit's outcome). */
  private async openPage(session: CheckoutSession, provider: ProviderId, page: { cancelUrl: string; idempotencyKey: string }) {
    return this.registry.get(provider).createCheckout({
      merchantId: session.merchantId,
      reference: session.id,
      amount: session.total,
      currency: session.currency,
      lines: session.lines.map((l) => ({ name: l.name, unitAmount: l.unitAmount, quantity: l.quantity })),
      customer: { email: session.customer.email },
      successUrl: session.successUrl,
      ...page,
      saveMethod: await this.saveMethodFor(session, provider),
    });
  }

  private async saveMethodFor(session: CheckoutSession, provider: ProviderId) {
    if (!session.savePaymentMethod) return undefined;
    return { providerCustomerRef: await this.methods.providerCustomerRef(session.merchantId, session.customer.id, provider) };
  }

  /**
   * A checkout that saves the method is opened only where the page can save it (one provider, no failover:
   * its subscriptions renew there); elsewhere 422, nothing written.
   */
  private savingAt(provider: ProviderId | undefined): ProviderId[] {
    if (provider && this.registry.has(provider) && this.registry.get(provider).savesOnHostedPage) return [provider];
    throw new DomainError(
      'unprocessable',
      'payment_method_not_supported',
      `The hosted page of ${provider ?? 'this currency'} cannot save the payment method: use POST /payments/process.`,
      { param: 'provider' },
    );
  }

  /**
   * The candidates from the first whose circuit lets a call through; none: 503 before anything is
   * written. Only that one is asked: asking claims a half-open circuit's single probe, which must then be
   * made (the later candidates are asked by openAtProvider when their turn comes).
   */
  private async available(candidates: ProviderId[]): Promise<ProviderId[]> {
    for (let i = 0; i < candidates.length; i++) if (await this.breaker.allows(candidates[i])) return candidates.slice(i);
    throw new ProvidersUnavailableError('Every provider for this currency is unavailable (circuit open). Retry later.');
  }

  /** The session is open at its provider: the answer (the extension's own, or the session) is stored for the key. */
  private async opened(op: PhasedOperation, session: CheckoutSession, extension: CheckoutExtension): Promise<unknown> {
    const body = extension.respond ? await extension.respond(this.withHostedUrl(session)) : this.withHostedUrl(session);
    await op.answer(successResponse(201, body));
    return body;
  }

  /** The session will never be paid: its pending payment is canceled, its coupon use and gift-card hold given back. */
  private async cancelPendingPayment(session: CheckoutSession, reason: string, tx: Transaction): Promise<void> {
    const payment = session.paymentId ? await this.payments.findById(session.merchantId, session.paymentId, tx) : null;
    if (!payment) return;
    if (payment.status === 'pending') await this.outcomes.cancel(tx, payment, reason);
    this.outcomes.giveBack(tx, payment);
  }

  private async closeAtProvider(session: CheckoutSession): Promise<void> {
    if (!session.provider || !session.providerSessionId) return;
    await this.registry
      .get(session.provider)
      .cancelCheckout(session.providerSessionId)
      .catch((err: unknown) => this.logger.warn({ err, sessionId: session.id }, 'could not close the checkout at its provider'));
  }
}

export function checkoutEvent(session: CheckoutSession, type: 'checkout.completed' | 'checkout.expired') {
  return {
    merchantId: session.merchantId,
    type,
    aggregateType: 'checkout_session' as const,
    aggregateId: session.id,
    data: {
      checkoutSessionId: session.id,
      paymentId: session.paymentId,
      total: session.total,
      currency: session.currency,
      customer: session.customer,
    },
  };
}
