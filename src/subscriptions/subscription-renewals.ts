import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BillingClock } from '../common/clock/billing-clock';
import { newId } from '../common/ids';
import type { Env } from '../config/env';
import { DatabaseService } from '../database/database.service';
import type { Transaction } from '../database/database.types';
import { SavedCharge, SavedCharges } from '../payments/charges/saved-charges';
import { PaymentsService } from '../payments/payments.service';
import type { ProviderId } from '../payments/providers/payment-provider';
import { nextDunningDue } from './dunning-rules';
import { InvoicesRepository } from './invoices.repository';
import { addMonths, SubscriptionBilling } from './subscription-billing';
import { SubscriptionsRepository } from './subscriptions.repository';
import type { InvoiceRow, SubscriptionRow } from './subscriptions.types';

/** What one run did (POST /admin/test-clock/advance answers it as `ran`). */
export interface RenewalCounts {
  renewals: number;
  retries: number;
  /** Subscriptions that reached the end of a period after a cancel at period end. */
  canceled: number;
  /** Subscriptions whose retries and grace were spent (unpaid, or canceled with DUNNING_FINAL_ACTION=cancel). */
  expired: number;
}

type Step = keyof RenewalCounts;

/** How long a claim keeps other runs off a subscription while this one charges it (real time). */
const CLAIM_SECONDS = 120;
/** Subscriptions handled at once by one run. */
const WORKERS = 8;
/** A safety stop: no subscription is handled more often than this in one run (a year of daily periods fits). */
const MAX_STEPS_PER_SUBSCRIPTION = 400;

/** The end of the period that starts at `start`. */
export function periodEndOf(start: Date, interval: 'month' | 'year'): Date {
  return addMonths(start, interval === 'year' ? 12 : 1);
}

/** The saved-method charge that pays a renewal invoice: one line, the period it pays for, with its coupon share. */
export function renewalCharge(sub: SubscriptionRow, invoice: InvoiceRow, paymentId: string, idempotencyKey: string): SavedCharge {
  const listAmount = invoice.amount + invoice.discount;
  return {
    merchantId: sub.merchant_id,
    paymentId,
    customerId: sub.customer_id,
    amount: invoice.amount,
    currency: invoice.currency,
    lines: [
      {
        productId: sub.product_id,
        name: `Subscription ${sub.id}, ${invoice.period_start.toISOString().slice(0, 10)} to ${invoice.period_end.toISOString().slice(0, 10)}`,
        unitAmount: listAmount,
        quantity: 1,
        amount: listAmount,
        discount: invoice.discount,
        productType: 'STANDARD',
        interval: sub.interval,
      },
    ],
    discount: invoice.discount,
    idempotencyKey,
    paymentMethodId: sub.payment_method_id as string,
    provider: sub.provider as ProviderId,
  };
}

/**
 * The renewal job's work (every instance may run it): subscriptions due in their merchant's billing time
 * are claimed in batches (FOR UPDATE SKIP LOCKED, then a claim of CLAIM_SECONDS), and each is moved one
 * step in its own transaction: a renewal invoice charged, a dunning retry, a grace end, or the end of a
 * canceled period. A charge is a payment under an idempotency key derived from (subscription, period,
 * attempt), recorded with the invoice, then charged by SavedCharges in the phases of a direct charge;
 * its outcome moves the subscription (SubscriptionBilling). A crash between the phases leaves the
 * payment processing on the invoice: the next run charges that same payment again under the same
 * provider key, which the provider answers with the first charge.
 */
@Injectable()
export class SubscriptionRenewals {
  private readonly logger = new Logger(SubscriptionRenewals.name);
  private readonly batch: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly subscriptions: SubscriptionsRepository,
    private readonly invoices: InvoicesRepository,
    private readonly billing: SubscriptionBilling,
    private readonly savedCharges: SavedCharges,
    private readonly payments: PaymentsService,
    private readonly clock: BillingClock,
    config: ConfigService<Env, true>,
  ) {
    this.batch = config.get('SUBSCRIPTION_RENEWAL_BATCH', { infer: true });
  }

  /** Runs every step due now (of one merchant, or all), until nothing is due. */
  async runDue(merchantId: string | null): Promise<RenewalCounts> {
    const counts: RenewalCounts = { renewals: 0, retries: 0, canceled: 0, expired: 0 };
    const steps = new Map<string, number>();
    for (;;) {
      const claimed = await this.subscriptions.claimDue({ merchantId, testClock: this.clock.testClockEnabled }, this.batch, CLAIM_SECONDS);
      const todo = claimed.filter((c) => (steps.get(c.id) ?? 0) < MAX_STEPS_PER_SUBSCRIPTION);
      if (todo.length === 0) return counts;
      let next = 0;
      const worker = async () => {
        while (next < todo.length) {
          const { merchantId: m, id } = todo[next++];
          steps.set(id, (steps.get(id) ?? 0) + 1);
          try {
            const step = await this.step(m, id);
            if (step) counts[step]++;
          } catch (err) {
            this.logger.error({ err, subscriptionId: id }, 'renewal step failed; the claim runs out and a later run retries it');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(WORKERS, todo.length) }, worker));
    }
  }

  /** Moves one claimed subscription one step; its charge, if any, after the step's transaction committed. */
  private async step(merchantId: string, id: string): Promise<Step | null> {
    let paymentId: string | null = null;
    const step = await this.db.transaction(async (tx): Promise<Step | null> => {
      const sub = await this.subscriptions.findForUpdate(merchantId, id, tx);
      const now = await this.clock.now(merchantId, tx);
      if (!sub || !sub.next_due_at || sub.next_due_at > now) return null;
      if (sub.status === 'active' && sub.current_period_end && sub.current_period_end <= now) {
        if (sub.cancel_at_period_end) {
          // A renewal left open (its provider was down) is not owed: the subscription ends with its period.
          const open = await this.invoices.findOpenRenewal(merchantId, id, sub.current_period_end, tx);
          if (open) await this.invoices.setStatus(merchantId, open.id, 'void', tx);
          await this.subscriptions.cancel(merchantId, id, sub.current_period_end, tx);
          await this.billing.event(tx, sub, 'subscription.canceled', { reason: 'period_end' });
          return 'canceled';
        }
        const invoice = await this.renewalInvoice(tx, sub);
        if (invoice.status === 'paid') return 'renewals'; // nothing to charge (a coupon covered it)
        paymentId = await this.attempt(tx, sub, invoice);
        return invoice.attempts === 0 ? 'renewals' : 'retries';
      }
      if (sub.status === 'past_due' && sub.latest_invoice_id) {
        const invoice = (await this.invoices.findForUpdate(merchantId, sub.latest_invoice_id, tx)) as InvoiceRow;
        if (invoice.next_retry_at && invoice.next_retry_at <= now) {
          paymentId = await this.attempt(tx, sub, invoice);
          return 'retries';
        }
        if (invoice.grace_ends_at && invoice.grace_ends_at <= now) {
          await this.billing.dunningSpent(tx, sub, invoice, now);
          return 'expired';
        }
        if (invoice.grace_ends_at)
          await this.subscriptions.setState(merchantId, id, 'past_due', nextDunningDue(invoice.next_retry_at, invoice.grace_ends_at), tx);
        return null;
      }
      await this.subscriptions.setState(merchantId, id, sub.status, null, tx); // nothing left to do (ended)
      return null;
    });
    if (paymentId) {
      const payment = await this.savedCharges.chargeSaved(merchantId, paymentId);
      // Still processing at the provider: the claim runs out by itself; its webhook or the recovery job settles it.
      if (payment?.status === 'processing') return step;
    }
    await this.subscriptions.releaseClaim(merchantId, id);
    return step;
  }

  /** The renewal invoice of the period after the current one (created once), with a waiting downgrade and the coupon's share. */
  async renewalInvoice(tx: Transaction, sub: SubscriptionRow): Promise<InvoiceRow> {
    const start = sub.current_period_end as Date;
    const amount = sub.pending_amount ?? sub.amount;
    const discounted = sub.renewal_discount > 0 && (sub.discount_ends_at === null || start < sub.discount_ends_at);
    const discount = discounted ? Math.min(sub.renewal_discount, amount) : 0;
    const invoice = await this.invoices.ensureRenewal(
      {
        merchantId: sub.merchant_id,
        id: newId('in'),
        subscriptionId: sub.id,
        amount: amount - discount,
        discount,
        currency: sub.currency,
        periodStart: start,
        periodEnd: periodEndOf(start, sub.interval),
      },
      tx,
    );
    if (invoice.attempts === 0) await this.subscriptions.startRenewal(sub.merchant_id, sub.id, invoice.id, tx);
    if (invoice.amount === 0 && invoice.status === 'open') {
      await this.billing.invoicePaid(tx, sub, invoice);
      return { ...invoice, status: 'paid' };
    }
    return invoice;
  }

  /**
   * The payment of the invoice's next attempt, recorded (phase 1) in the step's transaction: or the
   * invoice's payment still processing (a run that died after recording it), charged again as it is.
   */
  private async attempt(tx: Transaction, sub: SubscriptionRow, invoice: InvoiceRow): Promise<string> {
    if (invoice.payment_id && invoice.kind === 'renewal') {
      const current = await this.payments.getById(sub.merchant_id, invoice.payment_id);
      if (current.status === 'processing') return current.id;
    }
    const n = invoice.attempts + 1;
    const paymentId = newId('pay');
    this.savedCharges.recordSavedCharge(
      tx,
      renewalCharge(sub, invoice, paymentId, `renewal:${sub.id}:${invoice.period_start.toISOString()}:${n}`),
    );
    await this.invoices.attempt(sub.merchant_id, invoice.id, paymentId, n, tx);
    return paymentId;
  }
}
