import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { SessionPaying } from '../payments/payment-hooks';
import type { SubscriptionRow, SubscriptionStatus } from './subscriptions.types';

const VIEW = `s.merchant_id, s.id, s.customer_id, c.email AS customer_email, s.product_id, s.quantity, s.provider, s.managed_by,
              s.status, s.amount, s.currency, s.interval, s.current_period_start, s.current_period_end, s.cancel_at_period_end,
              s.canceled_at, s.payment_method_id, s.latest_invoice_id, s.first_payment_id, s.pending_product_id, s.pending_amount,
              s.coupon_code, s.renewal_discount, s.discount_ends_at, s.next_due_at, s.created_at, s.updated_at,
              i.attempts AS invoice_attempts, i.next_retry_at AS invoice_next_retry_at, i.grace_ends_at AS invoice_grace_ends_at`;
const FROM = `subscriptions s
              JOIN customers c ON c.merchant_id = s.merchant_id AND c.id = s.customer_id
              LEFT JOIN invoices i ON i.merchant_id = s.merchant_id AND i.id = s.latest_invoice_id`;

export interface NewSubscription {
  merchantId: string;
  id: string;
  customerId: string;
  productId: string;
  quantity: number;
  provider: string;
  managedBy: 'provider' | 'paybridge';
  amount: number;
  currency: string;
  interval: 'month' | 'year';
  paymentMethodId: string | null;
  firstPaymentId: string;
  couponCode: string | null;
  renewalDiscount: number;
  firstInvoice: { id: string; amount: number; discount: number };
}

export interface SubscriptionFilter {
  customerEmail?: string;
  status?: SubscriptionStatus;
}

/** Subscriptions (all SQL; invoices are InvoicesRepository's). */
@Injectable()
export class SubscriptionsRepository {
  constructor(private readonly db: DatabaseService) {}

  /** A subscription bought with its first payment (incomplete), with its first invoice (open). */
  insert(sub: NewSubscription, tx: Executor): Promise<unknown> {
    return tx.query(
      `WITH sub AS (
         INSERT INTO subscriptions (merchant_id, id, customer_id, product_id, quantity, provider, managed_by, status, amount, currency,
                                    interval, payment_method_id, latest_invoice_id, first_payment_id, coupon_code, renewal_discount)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'incomplete', $8, $9, $10, $11, $12, $13, $14, $15)
         RETURNING merchant_id, id
       )
       INSERT INTO invoices (merchant_id, id, subscription_id, kind, status, amount, discount, currency, period_start, period_end, payment_id)
       SELECT merchant_id, $12, id, 'first', 'open', $16, $17, $9, now(), now(), $13 FROM sub`,
      [
        sub.merchantId,
        sub.id,
        sub.customerId,
        sub.productId,
        sub.quantity,
        sub.provider,
        sub.managedBy,
        sub.amount,
        sub.currency,
        sub.interval,
        sub.paymentMethodId,
        sub.firstInvoice.id,
        sub.firstPaymentId,
        sub.couponCode,
        sub.renewalDiscount,
        sub.firstInvoice.amount,
        sub.firstInvoice.discount,
      ],
    );
  }

  /**
   * A hosted checkout is being paid by `paymentId` (a new payment after a declined attempt) with the method
   * its page saved: the session's incomplete subscriptions, and their open first invoices, follow it.
   */
  moveToSessionPayment(p: SessionPaying, tx: Executor): Promise<unknown> {
    return tx.query(
      `WITH moved AS (
         UPDATE subscriptions s
            SET first_payment_id = $3, payment_method_id = coalesce($4, s.payment_method_id), updated_at = now()
           FROM payments p
          WHERE s.merchant_id = $1 AND s.status = 'incomplete'
            AND p.merchant_id = s.merchant_id AND p.id = s.first_payment_id AND p.checkout_session_id = $2
         RETURNING s.merchant_id, s.id
       )
       UPDATE invoices i
          SET payment_id = $3, updated_at = now()
         FROM moved
        WHERE i.merchant_id = moved.merchant_id AND i.subscription_id = moved.id AND i.kind = 'first' AND i.status = 'open'`,
      [p.merchantId, p.checkoutSessionId, p.paymentId, p.paymentMethodId],
    );
  }

  /** The first payment succeeded: its subscriptions become active, their first period starting `now`. */
  async activateByFirstPayment(
    merchantId: string,
    paymentId: string,
    period: { start: Date; monthEnd: Date; yearEnd: Date },
    tx: Executor,
  ): Promise<{ id: string }[]> {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE subscriptions s
          SET status = 'active',
              current_period_start = $3,
              current_period_end = CASE s.interval WHEN 'year' THEN $5::timestamptz ELSE $4::timestamptz END,
              next_due_at = CASE s.interval WHEN 'year' THEN $5::timestamptz ELSE $4::timestamptz END,
              updated_at = now()
        WHERE s.merchant_id = $1 AND s.first_payment_id = $2 AND s.status = 'incomplete'
        RETURNING s.id`,
      [merchantId, paymentId, period.start, period.monthEnd, period.yearEnd],
    );
    return rows;
  }

  async find(merchantId: string, id: string, executor: Executor = this.db): Promise<SubscriptionRow | null> {
    const { rows } = await executor.query<SubscriptionRow>(`SELECT ${VIEW} FROM ${FROM} WHERE s.merchant_id = $1 AND s.id = $2`, [
      merchantId,
      id,
    ]);
    return rows[0] ?? null;
  }

  async findForUpdate(merchantId: string, id: string, tx: Executor): Promise<SubscriptionRow | null> {
    const { rows } = await tx.query<SubscriptionRow>(`SELECT ${VIEW} FROM ${FROM} WHERE s.merchant_id = $1 AND s.id = $2 FOR UPDATE OF s`, [
      merchantId,
      id,
    ]);
    return rows[0] ?? null;
  }

  /** The merchant's subscriptions, newest first (keyset page after `after`). */
  async list(merchantId: string, filter: SubscriptionFilter, limit: number, executor: Executor = this.db): Promise<SubscriptionRow[]> {
    const { rows } = await executor.query<SubscriptionRow>(
      `SELECT ${VIEW}
         FROM ${FROM}
        WHERE s.merchant_id = $1
          AND ($2::text IS NULL OR c.email = lower($2))
          AND ($3::text IS NULL OR s.status = $3)
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT $4`,
      [merchantId, filter.customerEmail ?? null, filter.status ?? null, limit],
    );
    return rows;
  }

  /**
   * Claims up to `limit` subscriptions due for the renewal job (renewal, retry, grace end, end of a
   * canceled period) and not claimed by another run: FOR UPDATE SKIP LOCKED, then a claim that lasts
   * `leaseSeconds` of real time, so that other instances skip them while this one charges (no
   * transaction is held across the provider call). Due means at or before the merchant's billing time:
   * real time plus its test-clock offset (billing_clocks) when `testClock`, else real time.
   */
  async claimDue(
    filter: { merchantId: string | null; testClock: boolean },
    limit: number,
    leaseSeconds: number,
  ): Promise<{ merchantId: string; id: string }[]> {
    const { rows } = await this.db.query<{ merchantId: string; id: string }>(
      `WITH bound AS (
         SELECT now() + make_interval(secs => CASE WHEN $2 THEN coalesce(max(offset_seconds), 0) ELSE 0 END) AS latest
           FROM billing_clocks
       ), due AS (
         SELECT s.merchant_id, s.id
           FROM subscriptions s
          WHERE s.managed_by = 'paybridge'
            AND s.next_due_at IS NOT NULL
            AND s.next_due_at <= (SELECT latest FROM bound)
            AND ($1::text IS NULL OR s.merchant_id = $1)
            AND (s.claimed_until IS NULL OR s.claimed_until < now())
            AND (NOT $2 OR s.next_due_at <= now() + make_interval(secs => coalesce(
                  (SELECT offset_seconds FROM billing_clocks b WHERE b.merchant_id = s.merchant_id), 0)))
          ORDER BY s.next_due_at
          LIMIT $3
          FOR UPDATE OF s SKIP LOCKED
       )
       UPDATE subscriptions s
          SET claimed_until = now() + make_interval(secs => $4)
         FROM due
        WHERE s.merchant_id = due.merchant_id AND s.id = due.id
        RETURNING s.merchant_id AS "merchantId", s.id`,
      [filter.merchantId, filter.testClock, limit, leaseSeconds],
    );
    return rows;
  }

  async releaseClaim(merchantId: string, id: string): Promise<void> {
    await this.db.query(`UPDATE subscriptions SET claimed_until = NULL WHERE merchant_id = $1 AND id = $2`, [merchantId, id]);
  }

  /** A renewal invoice is being charged: a waiting downgrade takes effect with it. */
  startRenewal(merchantId: string, id: string, invoiceId: string, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions
          SET latest_invoice_id = $3,
              product_id = coalesce(pending_product_id, product_id),
              amount = coalesce(pending_amount, amount),
              pending_product_id = NULL,
              pending_amount = NULL,
              updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, invoiceId],
    );
  }

  /** A renewal was paid: the period moves to the invoice's, active again. */
  renewed(merchantId: string, id: string, period: { start: Date; end: Date }, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions
          SET status = 'active',
              current_period_start = $3,
              current_period_end = $4,
              next_due_at = $4,
              updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, period.start, period.end],
    );
  }

  /** Status and when the renewal job looks at it next (null: never). */
  setState(merchantId: string, id: string, status: SubscriptionStatus, nextDueAt: Date | null, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions
          SET status = $3,
              next_due_at = $4,
              canceled_at = CASE WHEN $3 = 'canceled' THEN coalesce(canceled_at, now()) ELSE canceled_at END,
              updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, status, nextDueAt],
    );
  }

  /** Ends the subscription at `at` (billing time): canceled, nothing due any more. */
  cancel(merchantId: string, id: string, at: Date, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions
          SET status = 'canceled', canceled_at = $3, next_due_at = NULL, updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, at],
    );
  }

  setCancelAtPeriodEnd(merchantId: string, id: string, value: boolean, tx: Executor): Promise<unknown> {
    return tx.query(`UPDATE subscriptions SET cancel_at_period_end = $3, updated_at = now() WHERE merchant_id = $1 AND id = $2`, [
      merchantId,
      id,
      value,
    ]);
  }

  setPaymentMethod(merchantId: string, id: string, paymentMethodId: string, nextDueAt: Date | null, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions
          SET payment_method_id = $3, next_due_at = coalesce($4, next_due_at), updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, paymentMethodId, nextDueAt],
    );
  }

  /** A downgrade waiting for the period end (null: none). */
  setPending(merchantId: string, id: string, productId: string | null, amount: number | null, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions SET pending_product_id = $3, pending_amount = $4, updated_at = now() WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, productId, amount],
    );
  }

  /** An upgrade paid: the product and amount change now; any waiting downgrade is dropped. */
  changeProduct(merchantId: string, id: string, productId: string, amount: number, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE subscriptions
          SET product_id = $3, amount = $4, pending_product_id = NULL, pending_amount = NULL, updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, productId, amount],
    );
  }

  setDiscountEnd(merchantId: string, id: string, endsAt: Date | null, tx: Executor): Promise<unknown> {
    return tx.query(`UPDATE subscriptions SET discount_ends_at = $3 WHERE merchant_id = $1 AND id = $2`, [merchantId, id, endsAt]);
  }
}
