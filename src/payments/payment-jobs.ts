import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Env } from '../config/env';
import { DatabaseService } from '../database/database.service';
import { CheckoutSessionsRepository } from './checkout/checkout-sessions.repository';
import { CheckoutService } from './checkout/checkout.service';
import { PaymentOutcomes } from './outcomes/payment-outcomes';
import { PaymentsRepository } from './payments.repository';
import { PaymentsSearchRepository } from './payments-search.repository';
import type { Attempt, Payment } from './payments.types';
import { ProviderRegistry } from './providers/provider-registry';
import { RefundsRepository } from './refunds/refunds.repository';
import { RefundsService } from './refunds/refunds.service';
import { Phases } from '../common/idempotency/phased-operation';
import { ChargeSettlement } from './charges/charge-settlement';
import { ChargesService } from './charges/charges.service';
import { isOpen, SETTLED } from './outcomes/payment-state';

const BATCH = 50;

/**
 * Background work that keeps every payment moving, one runner at a time across all instances
 * (advisory locks), like Kill Bill's Janitor:
 * - recovery: payments left in processing by a crash or an unknown outcome are resolved by asking the
 *   provider; refunds left pending are sent again under the same provider key (or, when the provider
 *   took them and settles later, booked once it reports them refunded); a payment waiting on
 *   the customer (3-D Secure) past PAYMENT_PENDING_DEADLINE_HOURS fails;
 * - expiry: open checkout sessions past their expiry become expired.
 */
@Injectable()
export class PaymentJobs implements OnModuleInit {
  private readonly logger = new Logger(PaymentJobs.name);
  private readonly minAgeSeconds: number;
  private readonly lockTimeoutSeconds: number;
  private readonly deadlineHours: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly payments: PaymentsRepository,
    private readonly search: PaymentsSearchRepository,
    private readonly phases: Phases,
    private readonly charges: ChargesService,
    private readonly settlement: ChargeSettlement,
    private readonly refunds: RefundsRepository,
    private readonly refundsService: RefundsService,
    private readonly sessions: CheckoutSessionsRepository,
    private readonly checkout: CheckoutService,
    private readonly outcomes: PaymentOutcomes,
    private readonly registry: ProviderRegistry,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: ConfigService<Env, true>,
  ) {
    this.minAgeSeconds = config.get('RECOVERY_MIN_AGE_SECONDS', { infer: true });
    this.lockTimeoutSeconds = config.get('IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', { infer: true });
    this.deadlineHours = config.get('PAYMENT_PENDING_DEADLINE_HOURS', { infer: true });
  }

  onModuleInit(): void {
    if (!this.config.get('JOBS_ENABLED', { infer: true })) return;
    const every = this.config.get('RECOVERY_INTERVAL_MS', { infer: true });
    this.scheduler.addInterval(
      'payments-recovery',
      setInterval(() => void this.recover().catch((err) => this.logger.error({ err }, 'recovery failed')), every),
    );
    this.scheduler.addInterval(
      'checkout-expiry',
      setInterval(() => void this.expireSessions().catch((err) => this.logger.error({ err }, 'expiry failed')), 60_000),
    );
  }

  /**
   * One pass of the recovery job; returns how many payments and refunds it settled or retried, or
   * undefined when another runner (instance, or tick) holds the job.
   */
  async recover(): Promise<number | undefined> {
    return this.db.withAdvisoryLock('paybridge:payments-recovery', async () => {
      let handled = 0;
      for (const stuck of await this.search.findUnresolved(this.minAgeSeconds, this.lockTimeoutSeconds, this.deadlineHours, BATCH)) {
        const payment = (await this.payments.findById(stuck.merchantId, stuck.paymentId)) as Payment;
        try {
          if (stuck.status === 'requires_action') await this.abandon(payment, stuck.attempt);
          else if (stuck.attempt) {
            await this.charges.resolveWithProvider(this.phases.abandoned(payment.merchantId, stuck.idempotencyKey), payment, stuck.attempt);
          } else {
            // No provider attempt: a gift card covered it, and the process died before settling.
            await this.settlement.paidByGiftCard(this.phases.abandoned(payment.merchantId, stuck.idempotencyKey), payment);
          }
          handled++;
        } catch (err) {
          // A decline or provider outage surfaces as the error the payment now answers with: settled.
          if ((err as { kind?: string }).kind === 'card_declined' || (err as { code?: string }).code === 'provider_unavailable') handled++;
          else {
            this.logger.warn({ err, paymentId: payment.id }, 'payment still unresolved');
            await this.payments.touch(payment.merchantId, payment.id).catch(() => undefined); // the others go first next time
          }
        }
      }
      for (const refund of await this.refunds.findStalePending(this.minAgeSeconds, this.lockTimeoutSeconds, BATCH)) {
        // Sent and taken by the provider (it settles later): asked, never sent again. Otherwise its
        // outcome is unknown: sent again under the same provider key.
        const settled = refund.providerRef
          ? this.refundsService.settleFromProvider(refund.merchantId, refund)
          : this.refundsService.execute(this.phases.detached(), refund.merchantId, refund).then(() => true);
        const done = await settled.catch((err: unknown) => {
          this.logger.warn({ err, refundId: refund.id }, 'refund still pending');
          return false;
        });
        if (done) handled++;
        else await this.refunds.touch(refund.merchantId, refund.id).catch(() => undefined); // the others go first next time
      }
      return handled;
    });
  }

  /**
   * Reconciliation found this payment succeeded at its provider while it is still open here (a lost
   * webhook): it is resolved the way recovery resolves one, by asking the provider and applying its
   * answer through the payment's outcomes, and its timeline gets `note`. True when it is now settled;
   * false when the provider's answer left it open (or it has no provider attempt to ask about).
   */
  async resolveFromProvider(merchantId: string, paymentId: string, note: Record<string, unknown>): Promise<boolean> {
    const payment = await this.payments.findById(merchantId, paymentId);
    const attempt = payment && (await this.payments.latestAttempt(merchantId, paymentId));
    if (!payment || !attempt || !isOpen(payment.status)) return false;
    // Never a new charge: the provider holds one already, and nobody waits on this payment.
    const resolved = await this.charges.resolveWithProvider(
      this.phases.detached(),
      payment,
      { ...attempt, providerRef: attempt.providerRef ?? payment.providerRef },
      false,
    );
    if (!SETTLED.includes(resolved.status)) return false;
    await this.payments.addTimelineEntry(merchantId, paymentId, 'note', note);
    return true;
  }

  /** One pass of the expiry job: how many open sessions past their expiry it expired (undefined: as recover()). */
  async expireSessions(): Promise<number | undefined> {
    return this.db.withAdvisoryLock('paybridge:checkout-expiry', async () => {
      let expired = 0;
      for (const session of await this.sessions.findExpired(BATCH)) {
        if (await this.checkout.expire(session.merchantId, session.id)) expired++;
      }
      return expired;
    });
  }

  /**
   * The customer never finished 3-D Secure within the deadline. The charge is canceled at the provider
   * first, so that an authentication completed later cannot take money for a payment we failed; then the
   * provider is asked: if the charge went through after all (a lost webhook, or the customer finishing
   * just before the cancel), it is recorded instead. While the provider cannot be reached, or still shows
   * the charge waiting, the payment is left for the next pass.
   */
  private async abandon(payment: Payment, attempt: Attempt | null): Promise<void> {
    if (attempt) {
      const provider = this.registry.get(attempt.provider);
      if (payment.providerRef) await provider.cancel(payment.providerRef);
      const found = await provider.retrieve({
        providerRef: payment.providerRef,
        idempotencyKey: attempt.providerKey,
        reference: payment.id,
      });
      if (found?.status === 'requires_action') throw new Error(`The provider still shows ${payment.id} waiting on the customer`);
      if (found && found.status !== 'canceled') {
        await this.charges.resolveWithProvider(this.phases.detached(), payment, { ...attempt, providerRef: payment.providerRef });
        return;
      }
    }
    await this.db.transaction((tx) =>
      this.outcomes.fail(
        tx,
        payment,
        { code: 'authentication_timeout', message: 'The customer did not complete authentication in time.' },
        null,
      ),
    );
  }
}
