import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AuthContext } from '../../auth/auth.types';
import type { Env } from '../../config/env';
import { DomainError, NotFoundError } from '../../common/errors/domain-errors';
import { newId } from '../../common/ids';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { errorResponse, successResponse } from '../../common/idempotency/idempotency.interceptor';
import { IdempotencyRepository, KeyCompletion, StoredResponse } from '../../common/idempotency/idempotency.repository';
import { Page, PageRequest, paginate } from '../../common/pagination';
import { CustomersRepository } from '../../customers/customers.repository';
import { normalizeEmail } from '../../customers/customers.types';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import type { ProcessPaymentDto } from '../dto/checkout.dto';
import { FraudService, FraudVerdict } from '../../fraud/fraud.service';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import { CircuitBreakerService } from '../circuit-breaker/circuit-breaker.service';
import { errorForFailedPayment, OutcomeUnknownError, ProvidersUnavailableError } from '../payment-errors';
import { PaymentOutcomes, PaymentRef } from '../outcomes/payment-outcomes';
import { isOpen, SETTLED } from '../outcomes/payment-state';
import { PaymentFilter, PaymentsRepository } from '../payments.repository';
import type { Attempt, Line, Payment, TimelineEntry } from '../payments.types';
import { DiscountedCart, PricingService } from '../pricing.service';
import {
  ProviderDeclineError,
  ProviderId,
  ProviderPayment,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
  ProviderWebhookEvent,
} from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { ProviderRouter } from '../routing/provider-router';

/** A provider and the token the request gave for it: one step of a direct charge's failover plan. */
interface PlannedMethod {
  provider: ProviderId;
  token: string;
}

/** The record of a direct charge (POST /payments/process) as phase 1 inserts it, processing. */
function directPayment(
  merchantId: string,
  id: string,
  dto: ProcessPaymentDto,
  cart: DiscountedCart,
  idem: IdempotencyContext,
  clientIp: string | null,
) {
  return {
    merchantId,
    id,
    status: 'processing' as const,
    amount: cart.total,
    currency: dto.currency,
    customer: { email: normalizeEmail(dto.customer.email) },
    checkoutSessionId: null,
    lines: cart.lines,
    discount: cart.discount,
    idempotencyKey: idem.key,
    retryOf: null,
    metadata: dto.metadata ?? {},
    clientIp,
  };
}

/**
 * A successful charge the payment does not account for: the payment was closed (failed, canceled) before
 * the provider reported it, or another charge paid it (a second charge for one payment).
 */
function unaccountedCharge(payment: Pick<Payment, 'status' | 'providerRef'>, providerRef: string): boolean {
  if (isOpen(payment.status)) return false;
  if (!SETTLED.includes(payment.status)) return true; // failed, canceled
  return payment.providerRef !== null && payment.providerRef !== providerRef;
}

/** Recovery points of POST /payments/process (Brandur Leach's design). */
const PAYMENT_CREATED = 'payment_created';

/**
 * Direct charges (POST /payments/process) in atomic phases:
 *   1. one transaction records the customer, the payment (processing) and its first attempt, and moves
 *      the idempotency key's recovery point to payment_created;
 *   2. the provider is called outside any transaction, under a key derived from ours (`<payment>_<n>`);
 *   3. one transaction writes the outcome (status, ledger, outbox) and stores the response for replay.
 * A process that dies between 1 and 3 leaves a processing payment whose attempt the provider can be
 * asked about: the client's retry (same key) or the recovery job resolves it, never charging twice.
 */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);
  private readonly lockTimeoutSeconds: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly customers: CustomersRepository,
    private readonly idempotency: IdempotencyRepository,
    private readonly pricing: PricingService,
    private readonly registry: ProviderRegistry,
    private readonly router: ProviderRouter,
    private readonly outcomes: PaymentOutcomes,
    private readonly breaker: CircuitBreakerService,
    private readonly fraud: FraudService,
    private readonly holds: GiftCardHolds,
    config: ConfigService<Env, true>,
  ) {
    this.lockTimeoutSeconds = config.get('IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', { infer: true });
  }

  async process(caller: AuthContext, dto: ProcessPaymentDto, idem: IdempotencyContext, clientIp: string | null): Promise<Payment> {
    if (idem.recoveryPoint === PAYMENT_CREATED) return this.resume(caller.merchantId, idem);
    const merchantId = caller.merchantId;
    const cart = await this.pricing.priceWithCoupon(merchantId, dto.items, dto.currency, caller.kind, dto.couponCode, dto.customer.email);
    // A gift card pays first; a provider only for the rest (nothing, when the card covers it all).
    const card = dto.giftCardCode ? await this.holds.quote(merchantId, dto.giftCardCode, cart.total, dto.currency) : null;
    const providerAmount = cart.total - (card?.amount ?? 0);
    const routed = providerAmount > 0 ? this.plan(dto) : [];
    const verdict = await this.fraud.assess({
      merchantId,
      ip: clientIp,
      email: dto.customer.email,
      country: dto.customer.country ?? null,
      paymentMethod: routed[0],
    });
    if (!verdict.allowed) return this.refuseAsFraud(caller, dto, cart, idem, clientIp, verdict);
    const first = await this.nextAvailable(routed, 0);
    if (providerAmount > 0 && first === undefined) {
      throw new ProvidersUnavailableError('Every provider for this payment is unavailable (circuit open); nothing was charged.');
    }
    const plan = routed.slice(first ?? 0);
    const paymentId = newId('pay');
    const attempt = plan.length ? this.newAttempt(paymentId, plan[0], 1) : null;

    const record = {
      ...directPayment(merchantId, paymentId, dto, cart, idem, clientIp),
      provider: attempt?.provider ?? null,
      cardFingerprint: plan.length ? this.fraud.fingerprint(plan[0]) : null,
      returnUrl: dto.returnUrl ?? null,
      couponCode: cart.couponCode,
      giftCardCode: card?.code ?? null,
      giftCardAmount: card?.amount ?? 0,
    };
    const { inserted } = await this.db.transaction(async (tx) => {
      // The customer's writes, then the payment's insert, which finds the customer by email and answers
      // with it. Writes nobody reads back are handed over in one batch; without a coupon or gift card they
      // are single statements, and COMMIT leaves with them.
      this.customers.ensure(tx, merchantId, dto.customer);
      const inserted = this.payments.insert(record, attempt, tx);
      tx.later(inserted);
      this.pricing.reserveCoupon(tx, merchantId, cart, { paymentId, customerEmail: record.customer.email, currency: dto.currency });
      if (card) tx.later(this.holds.hold(tx, merchantId, card.code, card.amount, dto.currency, paymentId));
      tx.later(this.idempotency.advance(idem, PAYMENT_CREATED, tx));
      // Not awaited here: awaiting it would hold COMMIT back until its answer came.
      return { inserted };
    });
    const [customer] = (await inserted).rows;
    const payment = { ...record, customer };
    if (!attempt) return this.paidByGiftCard(payment, idem);
    return this.charge(payment, cart.lines, plan, attempt, dto.returnUrl, this.idempotency.owned(idem), idem);
  }

  /** The gift card covered everything: no provider is involved (also what recovery runs for such a payment). */
  async paidByGiftCard(
    payment: PaymentRef,
    idem: IdempotencyContext | null,
    complete: KeyCompletion | null = idem && this.idempotency.owned(idem),
  ): Promise<Payment> {
    const settled = await this.db.transaction(async (tx) => {
      const after =
        (await this.outcomes.succeed(tx, payment, null, null, null, { paidBy: 'gift_card' })) ??
        ((await this.payments.findById(payment.merchantId, payment.id, tx)) as Payment);
      if (complete) tx.later(complete(tx, this.responseFor(after, idem?.requestId ?? '')));
      return after;
    });
    if (idem) idem.completed = true;
    return settled;
  }

  /**
   * A fraud rule blocked the attempt: it is recorded as a failed payment with the rule in its timeline
   * (and counted in /metrics), its answer is stored for the key, and no provider is called.
   */
  private async refuseAsFraud(
    caller: AuthContext,
    dto: ProcessPaymentDto,
    cart: DiscountedCart,
    idem: IdempotencyContext,
    clientIp: string | null,
    verdict: Exclude<FraudVerdict, { allowed: true }>,
  ): Promise<never> {
    const error = this.fraud.errorFor(verdict);
    await this.db.transaction(async (tx) => {
      this.customers.ensure(tx, caller.merchantId, dto.customer);
      const payment = { ...directPayment(caller.merchantId, newId('pay'), dto, cart, idem, clientIp), provider: null };
      const [customer] = (await this.payments.insert(payment, null, tx)).rows;
      await this.payments.addTimelineEntry(caller.merchantId, payment.id, 'note', { fraud: verdict.rule, ...verdict.detail }, tx);
      await this.outcomes.fail(
        tx,
        { ...payment, customer },
        { code: error.code, message: error.message, declineCode: error.declineCode ?? null },
        null,
      );
      await this.idempotency.completeOwned(idem, errorResponse(error, idem.requestId), tx);
    });
    idem.completed = true;
    throw error;
  }

  /** Admin retry of a payment that failed because no provider was available (never a decline). */
  async retry(caller: AuthContext, paymentId: string, idem: IdempotencyContext): Promise<Payment> {
    if (idem.recoveryPoint === PAYMENT_CREATED) return this.resume(caller.merchantId, idem);
    const original = await this.getById(caller.merchantId, paymentId);
    const lastAttempt = await this.payments.latestAttempt(caller.merchantId, paymentId);
    // A coupon use or gift-card hold was given back when it failed: such a payment is paid again by a
    // new request from the customer, not by an admin retry.
    if (
      original.status !== 'failed' ||
      original.failureCode !== 'provider_unavailable' ||
      !lastAttempt?.paymentMethod ||
      original.couponCode ||
      original.giftCardAmount > 0
    ) {
      throw new DomainError(
        'unprocessable',
        'payment_not_retryable',
        'Only a direct payment without coupon or gift card that failed because no provider was available can be retried.',
        { param: 'id' },
      );
    }
    const plan: PlannedMethod[] = [{ provider: lastAttempt.provider, token: lastAttempt.paymentMethod }];
    const id = newId('pay');
    const attempt = this.newAttempt(id, plan[0], 1);
    await this.db.transaction(async (tx) => {
      await this.payments.insert(
        {
          merchantId: original.merchantId,
          id,
          status: 'processing',
          amount: original.amount,
          currency: original.currency,
          provider: attempt.provider,
          customer: { id: original.customer.id },
          checkoutSessionId: null,
          lines: original.lines ?? [],
          discount: original.discount,
          idempotencyKey: idem.key,
          retryOf: original.id,
          metadata: original.metadata,
          returnUrl: original.returnUrl,
        },
        attempt,
        tx,
      );
      await this.idempotency.advance(idem, PAYMENT_CREATED, tx);
    });
    // At most one live retry per payment (a unique index): a second retry with another key is a 409.
    const payment = { ...original, id, checkoutSessionId: null, retryOf: original.id };
    return this.charge(payment, original.lines ?? [], plan, attempt, original.returnUrl ?? undefined, this.idempotency.owned(idem), idem);
  }

  /**
   * The payment's outcome is not known to us (a crash, a timeout): ask the provider that may have
   * charged, and settle it from the answer. Used by a client's retry and by the recovery job.
   */
  async resolveWithProvider(
    payment: Payment,
    attempt: Attempt,
    complete: KeyCompletion | null,
    idem?: IdempotencyContext,
    rechargeIfMissing = true,
  ): Promise<Payment> {
    const provider = this.registry.get(attempt.provider);
    let found: ProviderPayment | null;
    try {
      found = await provider.retrieve({ providerRef: attempt.providerRef, idempotencyKey: attempt.providerKey, reference: payment.id });
    } catch (err) {
      if (err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError) throw new OutcomeUnknownError();
      throw err;
    }
    if (!found) {
      // The provider never received the charge. A waiting client can safely send it now (same key);
      // without one, nobody will: the payment fails and nothing was charged.
      // Right after an unknown outcome the provider may still be working on the request: no record yet
      // proves nothing. The payment stays processing; the client's retry or the recovery job asks again.
      if (!rechargeIfMissing) throw new OutcomeUnknownError();
      if (idem && attempt.paymentMethod) {
        const plan = [{ provider: attempt.provider, token: attempt.paymentMethod }];
        return this.charge(payment, payment.lines ?? [], plan, attempt, payment.returnUrl ?? undefined, this.idempotency.owned(idem), idem);
      }
      return this.finishFailure(
        payment,
        attempt,
        { code: 'provider_unavailable', message: 'The provider has no record of this charge.' },
        complete,
        idem,
      );
    }
    if (found.status === 'declined') {
      return this.finishFailure(
        payment,
        attempt,
        {
          code: 'card_declined',
          message: 'The card was declined.',
          declineCode: found.declineCode ?? 'generic_decline',
          providerRef: found.providerRef,
        },
        complete,
        idem,
      );
    }
    return this.finishCharge(payment, attempt, found, complete, idem);
  }

  /** A verified provider event about a charge (3-D Secure completed or failed, an async settlement). */
  async applyEvent(provider: ProviderId, event: ProviderWebhookEvent): Promise<'processed' | 'ignored'> {
    if (!event.merchantId || !event.providerRef) return 'ignored';
    const merchantId = event.merchantId;
    const payment = await this.payments.findForEvent(merchantId, provider, event.providerRef, event.reference);
    if (!payment) {
      // A hosted checkout's charge event can arrive before its checkout event: that one records it.
      if (!event.reference?.startsWith('cs_')) this.logger.warn({ provider, eventId: event.eventId }, 'webhook for an unknown payment');
      return 'ignored';
    }
    await this.db.transaction(async (tx) => {
      await this.payments.addTimelineEntry(merchantId, payment.id, 'webhook', { provider, eventId: event.eventId, type: event.type }, tx);
      if (event.kind === 'payment.succeeded') {
        const providerRef = event.providerRef as string;
        const succeeded = await this.outcomes.succeed(tx, payment, provider, providerRef, null, { eventId: event.eventId });
        // A hosted checkout's payments are recorded by its completion, whatever the session's state
        // (CheckoutService.complete). Otherwise money the payment does not account for (decided on the row
        // as it is now, locked) never moves it backwards: it is booked to suspense, once per charge.
        const current = succeeded || payment.checkoutSessionId ? null : await this.payments.findByIdForUpdate(merchantId, payment.id, tx);
        if (current && unaccountedCharge(current, providerRef)) {
          const reported = event.amount !== undefined && event.amount > 0 && event.currency !== undefined;
          const charge = reported
            ? { providerRef, amount: event.amount as number, currency: event.currency as string }
            : { providerRef, amount: payment.amount - payment.giftCardAmount, currency: payment.currency };
          if (await this.outcomes.unmatchedCharge(tx, payment, provider, charge)) {
            this.logger.error(
              { paymentId: payment.id, provider, eventId: event.eventId, providerRef, amount: charge.amount, currency: charge.currency },
              'provider reports a charge the payment does not account for: booked to suspense, reconcile',
            );
            await this.payments.flagForReconciliation(
              merchantId,
              payment.id,
              'provider reports a charge the payment does not account for',
              { suspense: charge },
              tx,
            );
          }
        }
      } else if (event.kind === 'payment.failed') {
        await this.outcomes.fail(
          tx,
          payment,
          {
            code: 'card_declined',
            message: 'The provider reported the payment as failed.',
            declineCode: event.declineCode ?? 'generic_decline',
            provider,
            providerRef: event.providerRef,
          },
          null,
        );
      }
    });
    return 'processed';
  }

  async getById(merchantId: string, id: string): Promise<Payment> {
    const payment = await this.payments.findById(merchantId, id);
    if (!payment) throw new NotFoundError('payment', id);
    return payment;
  }

  async list(merchantId: string, filter: PaymentFilter, page: PageRequest, executor: Executor = this.db): Promise<Page<Payment>> {
    return paginate(
      page,
      () => this.payments.list(merchantId, filter, page, executor),
      () => this.payments.count(merchantId, filter, executor),
    );
  }

  async timeline(merchantId: string, id: string): Promise<TimelineEntry[]> {
    await this.getById(merchantId, id);
    return this.payments.timeline(merchantId, id);
  }

  /** The recovery job's completion: the key of a request whose process is gone. */
  abandonedKey(payment: Payment, idempotencyKey: string | null): KeyCompletion | null {
    if (!idempotencyKey) return null;
    return this.idempotency.abandoned(payment.merchantId, idempotencyKey, this.lockTimeoutSeconds);
  }

  // ---- phases ----

  private async resume(merchantId: string, idem: IdempotencyContext): Promise<Payment> {
    const payment = await this.payments.findByIdempotencyKey(merchantId, idem.key);
    if (!payment) throw new DomainError('conflict', 'idempotency_state_invalid', 'This key has no payment to resume.');
    const attempt = await this.payments.latestAttempt(merchantId, payment.id);
    if (payment.status === 'processing' && attempt) return this.resolveWithProvider(payment, attempt, this.idempotency.owned(idem), idem);
    if (payment.status === 'processing') return this.paidByGiftCard(payment, idem); // no provider attempt: the card covered it
    // Settled while this key was unlocked (by the recovery job, or a webhook): answer from its state.
    await this.idempotency.completeOwned(idem, this.responseFor(payment, idem.requestId), this.db);
    idem.completed = true;
    if (payment.status === 'failed') throw errorForFailedPayment(payment.failureCode, payment.declineCode);
    return payment;
  }

  /** Phase 2 and 3: call the providers of the plan in turn (failover on unavailability only). */
  private async charge(
    payment: PaymentRef,
    lines: Line[],
    plan: PlannedMethod[],
    firstAttempt: Pick<Attempt, 'id' | 'provider' | 'providerKey' | 'paymentMethod'>,
    returnUrl: string | undefined,
    complete: KeyCompletion,
    idem: IdempotencyContext,
  ): Promise<Payment> {
    let attempt = firstAttempt;
    for (let step = 0, n = 1; ; n++) {
      const method = plan[step];
      let result: ProviderPayment;
      try {
        result = await this.registry.get(method.provider).charge({
          merchantId: payment.merchantId,
          reference: payment.id,
          amount: payment.amount - (payment.giftCardAmount ?? 0),
          currency: payment.currency,
          token: method.token,
          customer: { email: payment.customer.email },
          description: lines
            .map((l) => `${l.quantity} × ${l.name}`)
            .join(', ')
            .slice(0, 500),
          returnUrl,
          idempotencyKey: attempt.providerKey,
        });
      } catch (err) {
        if (err instanceof ProviderDeclineError) {
          await this.breaker.recordSuccess(method.provider); // a decline is an answer: the provider is up
          const decline = {
            code: 'card_declined' as const,
            message: err.message,
            declineCode: err.declineCode,
            providerRef: err.providerRef,
          };
          return this.finishFailure(payment, attempt, decline, complete, idem);
        }
        if (!(err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError)) throw err; // our own failure: recovery resolves it
        await this.breaker.recordFailure(method.provider, { merchantId: payment.merchantId, testToken: err.testToken });
        if (err instanceof ProviderUnknownOutcomeError) {
          // Sent, but no answer: only this provider can say whether it charged, so no failover. Ask it
          // now; if it cannot answer, the client gets 503 payment_outcome_unknown and its retry (or the
          // recovery job) asks again.
          this.logger.warn({ paymentId: payment.id, provider: method.provider }, 'provider outcome unknown; asking it');
          const current = (await this.payments.findById(payment.merchantId, payment.id)) as Payment;
          return this.resolveWithProvider(
            current,
            { ...attempt, paymentId: payment.id, status: 'unknown', providerRef: null },
            complete,
            idem,
            false,
          );
        }
        const next = await this.nextAvailable(plan, step + 1);
        if (next === undefined) {
          const failure = { code: 'provider_unavailable' as const, message: 'No provider was available; nothing was charged.' };
          return this.finishFailure(payment, attempt, failure, complete, idem);
        }
        // Nothing happened at this provider: fail over to the next one the request has a token for.
        const failed = attempt;
        const nextAttempt = this.newAttempt(payment.id, plan[next], n + 1);
        await this.db.transaction(async (tx) => {
          await this.payments.finishAttempt(
            payment.merchantId,
            payment.id,
            { attemptId: failed.id, status: 'failed', errorCode: 'provider_unavailable' },
            tx,
          );
          await this.payments.insertAttempt(payment.merchantId, { ...nextAttempt, paymentId: payment.id }, tx);
        });
        attempt = nextAttempt;
        step = next;
        continue;
      }
      await this.breaker.recordSuccess(method.provider);
      return this.finishCharge(payment, attempt, result, complete, idem);
    }
  }

  /** The index of the first step from `from` whose provider's circuit lets a call through. */
  private async nextAvailable(plan: PlannedMethod[], from: number): Promise<number | undefined> {
    for (let i = from; i < plan.length; i++) if (await this.breaker.allows(plan[i].provider)) return i;
    return undefined;
  }

  private async finishCharge(
    payment: PaymentRef,
    attempt: Pick<Attempt, 'id' | 'provider'>,
    result: ProviderPayment,
    complete: KeyCompletion | null,
    idem?: IdempotencyContext,
  ): Promise<Payment> {
    const settled = await this.db.transaction(async (tx) => {
      const outcome = { attemptId: attempt.id, providerRef: result.providerRef };
      let after: Payment | null = null;
      if (result.status === 'succeeded') {
        after = await this.outcomes.succeed(tx, payment, attempt.provider, result.providerRef, { ...outcome, status: 'succeeded' });
      } else if (result.status === 'requires_action' && result.nextActionUrl) {
        const nextAction = { type: 'redirect_to_url' as const, url: result.nextActionUrl };
        after = await this.outcomes.requireAction(tx, payment, attempt.provider, result.providerRef, nextAction, {
          ...outcome,
          status: 'requires_action',
        });
      } else if (result.status === 'canceled') {
        const failure = {
          code: 'canceled_by_provider',
          message: 'The provider canceled the payment.',
          provider: attempt.provider,
          providerRef: result.providerRef,
        };
        after = await this.outcomes.fail(tx, payment, failure, { ...outcome, status: 'failed' });
      } else {
        // Still processing at the provider: its webhook or the recovery job settles it later.
        await this.payments.finishAttempt(payment.merchantId, payment.id, { ...outcome, status: 'pending' }, tx);
      }
      // Null: already settled by someone else (a webhook, the recovery job): answer with what it is.
      after ??= (await this.payments.findById(payment.merchantId, payment.id, tx)) as Payment;
      if (complete) tx.later(complete(tx, this.responseFor(after, idem?.requestId ?? '')));
      return after;
    });
    if (idem) idem.completed = true;
    if (settled.status === 'failed') throw errorForFailedPayment(settled.failureCode, settled.declineCode);
    return settled;
  }

  private async finishFailure(
    payment: PaymentRef,
    attempt: Pick<Attempt, 'id' | 'provider'>,
    failure: { code: 'card_declined' | 'provider_unavailable'; message: string; declineCode?: string; providerRef?: string },
    complete: KeyCompletion | null,
    idem?: IdempotencyContext,
  ): Promise<never> {
    const settled = await this.db.transaction(async (tx) => {
      const attemptResult = {
        attemptId: attempt.id,
        status: failure.code === 'card_declined' ? ('declined' as const) : ('failed' as const),
        providerRef: failure.providerRef,
        errorCode: failure.declineCode ?? failure.code,
      };
      const after =
        (await this.outcomes.fail(tx, payment, { ...failure, provider: attempt.provider }, attemptResult)) ??
        ((await this.payments.findById(payment.merchantId, payment.id, tx)) as Payment);
      if (complete) tx.later(complete(tx, this.responseFor(after, idem?.requestId ?? '')));
      return after;
    });
    if (idem) idem.completed = true;
    // A concurrent settlement (webhook, recovery) may have won: answer with what the payment became.
    if (settled.status !== 'failed')
      throw new DomainError('conflict', 'payment_settled_elsewhere', `Payment ${settled.id} is ${settled.status}.`);
    throw errorForFailedPayment(settled.failureCode, settled.declineCode);
  }

  /** What a request for this payment answers: 201 with it, or the error of its failure. */
  private responseFor(payment: Payment, requestId: string): StoredResponse {
    if (payment.status === 'failed') return errorResponse(errorForFailedPayment(payment.failureCode, payment.declineCode), requestId);
    return successResponse(201, payment);
  }

  private newAttempt(paymentId: string, method: PlannedMethod, n: number) {
    return { id: newId('att'), provider: method.provider, providerKey: `${paymentId}_${n}`, paymentMethod: method.token };
  }

  /**
   * The providers to try, in routing order, among those the request gave a token for. A request that
   * names a provider (body `provider`) gets only that one.
   */
  private plan(dto: ProcessPaymentDto): PlannedMethod[] {
    const methods = [...(dto.paymentMethod ? [dto.paymentMethod] : []), ...(dto.paymentMethods ?? [])];
    if (methods.length === 0)
      throw new DomainError('invalid_request', 'parameter_missing', 'Give paymentMethod (or paymentMethods).', { param: 'paymentMethod' });
    const tokens = new Map(methods.map((m) => [m.provider, m.token]));
    const routed = dto.provider ? this.router.candidates(dto.currency, dto.provider) : this.router.candidates(dto.currency);
    const plan = routed.filter((p) => tokens.has(p)).map((provider) => ({ provider, token: tokens.get(provider) as string }));
    if (plan.length === 0) {
      throw new DomainError(
        'unprocessable',
        'provider_not_available',
        `No payment method given for a provider that takes ${dto.currency} (${routed.join(', ')}).`,
        {
          param: 'paymentMethod.provider',
        },
      );
    }
    return plan;
  }
}
