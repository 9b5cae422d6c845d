import { Injectable, Logger } from '@nestjs/common';
import type { AuthContext } from '../../auth/auth.types';
import { DomainError } from '../../common/errors/domain-errors';
import { newId } from '../../common/ids';
import type { IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { errorResponse } from '../../common/idempotency/idempotency.interceptor';
import { PhasedOperation, Phases } from '../../common/idempotency/phased-operation';
import { CustomersRepository } from '../../customers/customers.repository';
import type { Customer } from '../../customers/customers.types';
import { DatabaseService } from '../../database/database.service';
import { FraudService, FraudVerdict } from '../../fraud/fraud.service';
import { GiftCardHolds } from '../../gift-cards/gift-card-holds';
import { CircuitBreakerService } from '../circuit-breaker/circuit-breaker.service';
import type { ProcessPaymentDto } from '../dto/checkout.dto';
import { errorForFailedPayment, OutcomeUnknownError, ProvidersUnavailableError } from '../payment-errors';
import { PaymentOutcomes, PaymentRef } from '../outcomes/payment-outcomes';
import { PaymentsRepository } from '../payments.repository';
import { PaymentHooks } from '../payment-hooks';
import { PaymentsService } from '../payments.service';
import { SavedMethods } from '../saved-methods';
import type { Attempt, Line, Payment } from '../payments.types';
import { DiscountedCart, PricingService } from '../pricing.service';
import {
  ProviderDeclineError,
  ProviderPayment,
  ProviderUnavailableError,
  ProviderUnknownOutcomeError,
} from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { ProviderRouter } from '../routing/provider-router';
import { ChargeSettlement, paymentResponse } from './charge-settlement';
import { directPayment, NewAttempt, PlannedMethod, planMethods, priceRefOf, providerSubscriptionOf } from './charge-plan';

/** Recovery points of POST /payments/process (Brandur Leach's design). */
const PAYMENT_CREATED = 'payment_created';

/**
 * Direct charges (POST /payments/process) in atomic phases (PhasedOperation):
 *   1. record: one transaction records the customer, the payment (processing) and its first attempt, and
 *      moves the idempotency key's recovery point to payment_created;
 *   2. the provider is called outside any transaction, under a key derived from ours (`<payment>_<n>`);
 *   3. finish (ChargeSettlement): one transaction writes the outcome (status, ledger, outbox) and stores
 *      the response for replay.
 * A process that dies between 1 and 3 leaves a processing payment whose attempt the provider can be
 * asked about: the client's retry (same key) or the recovery job resolves it, never charging twice.
 */
@Injectable()
export class ChargesService {
  private readonly logger = new Logger(ChargesService.name);

  constructor(
    private readonly db: DatabaseService,
    private readonly phases: Phases,
    private readonly payments: PaymentsRepository,
    private readonly reads: PaymentsService,
    private readonly customers: CustomersRepository,
    private readonly pricing: PricingService,
    private readonly registry: ProviderRegistry,
    private readonly router: ProviderRouter,
    private readonly outcomes: PaymentOutcomes,
    private readonly settlement: ChargeSettlement,
    private readonly breaker: CircuitBreakerService,
    private readonly fraud: FraudService,
    private readonly holds: GiftCardHolds,
    private readonly savedMethods: SavedMethods,
    private readonly hooks: PaymentHooks,
  ) {}

  async process(caller: AuthContext, dto: ProcessPaymentDto, idem: IdempotencyContext, clientIp: string | null): Promise<Payment> {
    const op = this.phases.live(idem);
    if (op.resumesFrom(PAYMENT_CREATED)) return this.resume(op, caller.merchantId);
    const merchantId = caller.merchantId;
    const cart = await this.pricing.priceWithCoupon(merchantId, dto.items, dto.currency, caller.kind, dto.couponCode, dto.customer.email);
    // A gift card pays first; a provider only for the rest (nothing, when the card covers it all).
    const card = dto.giftCardCode ? await this.holds.quote(merchantId, dto.giftCardCode, cart.total, dto.currency) : null;
    const providerAmount = cart.total - (card?.amount ?? 0);
    let known: Customer | null = null;
    let routed: PlannedMethod[] = [];
    if (dto.paymentMethodId)
      ({ customer: known, method: routed[0] } = await this.savedMethods.chosen(merchantId, dto.customer.email, dto.paymentMethodId));
    else if (providerAmount > 0) routed = planMethods(dto, this.router);
    const saving = cart.lines.some((l) => l.interval) || dto.savePaymentMethod === true;
    this.hooks.check(merchantId, cart, routed[0]?.provider ?? null);
    if (saving && routed.length > 0 && !routed[0].saved) this.savedMethods.vaulting(routed[0].provider);
    const verdict = await this.fraud.assess({
      merchantId,
      ip: clientIp,
      email: dto.customer.email,
      country: dto.customer.country ?? null,
      paymentMethod: routed[0],
    });
    if (!verdict.allowed) return this.refuseAsFraud(op, caller, dto, cart, clientIp, verdict);
    const first = await this.nextAvailable(routed, 0);
    if (providerAmount > 0 && first === undefined) {
      throw new ProvidersUnavailableError('Every provider for this payment is unavailable (circuit open); nothing was charged.');
    }
    let plan = routed.slice(first ?? 0);
    if (saving && plan.length > 0 && !plan[0].saved) {
      // Saved first (under a key derived from the request's), then charged as a saved method: one provider, no failover.
      const saved = await this.savedMethods.saveForCharge(merchantId, dto.customer, plan[0], `${op.key}_save`);
      known = saved.customer;
      plan = [saved.method];
    }
    const paymentId = newId('pay');
    const attempt = plan.length ? this.newAttempt(paymentId, plan[0], 1) : null;

    const record = {
      ...directPayment(merchantId, paymentId, dto, cart, op.key, clientIp),
      provider: attempt?.provider ?? null,
      cardFingerprint: plan.length ? this.fraud.fingerprint(plan[0]) : null,
      returnUrl: dto.returnUrl ?? null,
      couponCode: cart.couponCode,
      giftCardCode: card?.code ?? null,
      giftCardAmount: card?.amount ?? 0,
    };
    const { inserted } = await op.record(PAYMENT_CREATED, (tx) => {
      // The customer's writes, then the payment's insert, which finds the customer by email and answers
      // with it. Writes nobody reads back are handed over in one batch; without a coupon or gift card they
      // are single statements, and COMMIT leaves with them.
      this.customers.ensure(tx, merchantId, dto.customer);
      const inserted = this.payments.insert(record, attempt, tx);
      tx.later(inserted);
      this.pricing.reserveCoupon(tx, merchantId, cart, { paymentId, customerEmail: record.customer.email, currency: dto.currency });
      if (card) tx.later(this.holds.hold(tx, merchantId, card.code, card.amount, dto.currency, paymentId));
      if (known && attempt) {
        const paymentMethodId = plan[0].saved ? plan[0].token : null;
        this.hooks.recorded(tx, {
          merchantId,
          paymentId,
          customerId: known.id,
          provider: attempt.provider,
          paymentMethodId,
          cart,
          currency: dto.currency,
        });
      }
      // Not awaited here: awaiting it would hold COMMIT back until its answer came.
      return { inserted };
    });
    const [customer] = (await inserted).rows;
    const payment = { ...record, customer };
    if (!attempt) return this.settlement.paidByGiftCard(op, payment);
    return this.charge(op, payment, cart.lines, plan, attempt, dto.returnUrl);
  }

  /** Admin retry of a payment that failed because no provider was available (never a decline). */
  async retry(caller: AuthContext, paymentId: string, idem: IdempotencyContext): Promise<Payment> {
    const op = this.phases.live(idem);
    if (op.resumesFrom(PAYMENT_CREATED)) return this.resume(op, caller.merchantId);
    const original = await this.reads.getById(caller.merchantId, paymentId);
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
    await op.record(PAYMENT_CREATED, (tx) =>
      this.payments.insert(
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
          fx: original.fx,
          idempotencyKey: op.key,
          retryOf: original.id,
          metadata: original.metadata,
          returnUrl: original.returnUrl,
        },
        attempt,
        tx,
      ),
    );
    // At most one live retry per payment (a unique index): a second retry with another key is a 409.
    const payment = { ...original, id, checkoutSessionId: null, retryOf: original.id };
    return this.charge(op, payment, original.lines ?? [], plan, attempt, original.returnUrl ?? undefined);
  }

  /**
   * The payment's outcome is not known to us (a crash, a timeout): ask the provider that may have
   * charged, and settle it from the answer. Used by a client's retry and by the recovery job.
   */
  async resolveWithProvider(op: PhasedOperation, payment: Payment, attempt: Attempt, rechargeIfMissing = true): Promise<Payment> {
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
      if (op.live && attempt.paymentMethod) {
        const plan = [await this.methodOf(payment.merchantId, attempt)];
        return this.charge(op, payment, payment.lines ?? [], plan, attempt, payment.returnUrl ?? undefined);
      }
      return this.settlement.failed(op, payment, attempt, {
        code: 'provider_unavailable',
        message: 'The provider has no record of this charge.',
      });
    }
    if (found.status === 'declined') {
      return this.settlement.failed(op, payment, attempt, {
        code: 'card_declined',
        message: 'The card was declined.',
        declineCode: found.declineCode ?? 'generic_decline',
        providerRef: found.providerRef,
      });
    }
    return this.settlement.charged(op, payment, attempt, found);
  }

  // ---- phases ----

  /** A retry after phase 1 committed: the payment of this key, resolved or answered as it is now. */
  private async resume(op: PhasedOperation, merchantId: string): Promise<Payment> {
    const payment = await this.payments.findByIdempotencyKey(merchantId, op.key);
    if (!payment) throw new DomainError('conflict', 'idempotency_state_invalid', 'This key has no payment to resume.');
    const attempt = await this.payments.latestAttempt(merchantId, payment.id);
    if (payment.status === 'processing' && attempt) return this.resolveWithProvider(op, payment, attempt);
    if (payment.status === 'processing') return this.settlement.paidByGiftCard(op, payment); // no provider attempt: the card covered it
    // Settled while this key was unlocked (by the recovery job, or a webhook): answer from its state.
    await op.answer(paymentResponse(payment, op.requestId));
    if (payment.status === 'failed') throw errorForFailedPayment(payment.failureCode, payment.declineCode);
    return payment;
  }

  /**
   * A fraud rule blocked the attempt: it is recorded as a failed payment with the rule in its timeline
   * (and counted in /metrics), its answer is stored for the key, and no provider is called.
   */
  private async refuseAsFraud(
    op: PhasedOperation,
    caller: AuthContext,
    dto: ProcessPaymentDto,
    cart: DiscountedCart,
    clientIp: string | null,
    verdict: Exclude<FraudVerdict, { allowed: true }>,
  ): Promise<never> {
    const error = this.fraud.errorFor(verdict);
    await op.finish(
      async (tx) => {
        this.customers.ensure(tx, caller.merchantId, dto.customer);
        const payment = { ...directPayment(caller.merchantId, newId('pay'), dto, cart, op.key, clientIp), provider: null };
        const [customer] = (await this.payments.insert(payment, null, tx)).rows;
        await this.payments.addTimelineEntry(caller.merchantId, payment.id, 'note', { fraud: verdict.rule, ...verdict.detail }, tx);
        await this.outcomes.fail(
          tx,
          { ...payment, customer },
          { code: error.code, message: error.message, declineCode: error.declineCode ?? null },
          null,
        );
      },
      () => errorResponse(error, op.requestId),
    );
    throw error;
  }

  /** Phase 2 and 3: call the providers of the plan in turn (failover on unavailability only). */
  async charge(
    op: PhasedOperation,
    payment: PaymentRef,
    lines: Line[],
    plan: PlannedMethod[],
    firstAttempt: NewAttempt,
    returnUrl: string | undefined,
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
          token: method.saved?.providerMethodRef ?? method.token,
          saved: method.saved,
          customer: { email: payment.customer.email },
          description: lines
            .map((l) => `${l.quantity} × ${l.name}`)
            .join(', ')
            .slice(0, 500),
          returnUrl,
          priceRef: priceRefOf(lines, method.provider),
          subscription: providerSubscriptionOf(lines, method.provider),
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
          return this.settlement.failed(op, payment, attempt, decline);
        }
        if (!(err instanceof ProviderUnavailableError || err instanceof ProviderUnknownOutcomeError)) throw err; // our own failure: recovery resolves it
        await this.breaker.recordFailure(method.provider, { merchantId: payment.merchantId, testToken: err.testToken });
        if (err instanceof ProviderUnknownOutcomeError) {
          // Sent, but no answer: only this provider can say whether it charged, so no failover. Ask it
          // now; if it cannot answer, the client gets 503 payment_outcome_unknown and its retry (or the
          // recovery job) asks again.
          this.logger.warn({ paymentId: payment.id, provider: method.provider }, 'provider outcome unknown; asking it');
          const current = (await this.payments.findById(payment.merchantId, payment.id)) as Payment;
          return this.resolveWithProvider(op, current, { ...attempt, paymentId: payment.id, status: 'unknown', providerRef: null }, false);
        }
        const next = await this.nextAvailable(plan, step + 1);
        if (next === undefined) {
          const failure = { code: 'provider_unavailable' as const, message: 'No provider was available; nothing was charged.' };
          return this.settlement.failed(op, payment, attempt, failure);
        }
        // Nothing happened at this provider: fail over to the next one the request has a token for.
        attempt = await this.failOver(payment, attempt, this.newAttempt(payment.id, plan[next], n + 1));
        step = next;
        continue;
      }
      await this.breaker.recordSuccess(method.provider);
      return this.settlement.charged(op, payment, attempt, result);
    }
  }

  /** The method an attempt was made with: a token, or a saved method (`pm_…`) and its references. */
  async methodOf(merchantId: string, attempt: Pick<Attempt, 'provider' | 'paymentMethod'>): Promise<PlannedMethod> {
    const token = attempt.paymentMethod as string;
    const saved = token.startsWith('pm_') ? await this.savedMethods.refOf(merchantId, token) : null;
    return saved ? { provider: attempt.provider, token, saved } : { provider: attempt.provider, token };
  }

  /** The attempt at an unavailable provider failed (nothing happened there); the next one is recorded. */
  private async failOver(payment: PaymentRef, failed: NewAttempt, next: NewAttempt): Promise<NewAttempt> {
    await this.db.transaction(async (tx) => {
      await this.payments.finishAttempt(
        payment.merchantId,
        payment.id,
        { attemptId: failed.id, status: 'failed', errorCode: 'provider_unavailable' },
        tx,
      );
      await this.payments.insertAttempt(payment.merchantId, { ...next, paymentId: payment.id }, tx);
    });
    return next;
  }

  /** The index of the first step from `from` whose provider's circuit lets a call through. */
  private async nextAvailable(plan: PlannedMethod[], from: number): Promise<number | undefined> {
    for (let i = from; i < plan.length; i++) if (await this.breaker.allows(plan[i].provider)) return i;
    return undefined;
  }

  newAttempt(paymentId: string, method: PlannedMethod, n: number): NewAttempt {
    return { id: newId('att'), provider: method.provider, providerKey: `${paymentId}_${n}`, paymentMethod: method.token };
  }
}
