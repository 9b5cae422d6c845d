import { Injectable } from '@nestjs/common';
import type { Customer } from '../customers/customers.types';
import type { FxSnapshot } from '../fx/fx.types';
import { DatabaseService } from '../database/database.service';
import type { Executor, Transaction } from '../database/database.types';
import { sourcesOf } from './outcomes/payment-state';
import type { Attempt, AttemptResult, Line, Payment, PaymentRow, PaymentStatus, TimelineEntry, TransitionChanges } from './payments.types';
import { toPayment } from './payments.types';

export const SELECT_PAYMENT = `
  SELECT p.merchant_id, p.id, p.status, p.amount, p.amount_refunded, p.amount_refund_pending, p.currency, p.provider,
         p.provider_ref, p.customer_id, c.email AS customer_email, p.checkout_session_id, p.lines, p.discount,
         p.failure_code, p.failure_message, p.decline_code, p.next_action, p.idempotency_key, p.retry_of,
         p.metadata, p.return_url, p.coupon_code, p.gift_card_code, p.gift_card_amount, p.fx, p.settlement_status, p.settlement_fee,
         p.settlement_available_on, p.created_at, p.updated_at
    FROM payments p
    JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id`;

export interface NewPayment {
  merchantId: string;
  id: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  provider: string | null;
  /** By id, or by (lower-case) email: see insert(). */
  customer: { id: string } | { email: string };
  checkoutSessionId: string | null;
  lines: Line[];
  discount: number;
  idempotencyKey: string | null;
  retryOf: string | null;
  metadata: Record<string, string>;
  clientIp?: string | null;
  cardFingerprint?: string | null;
  returnUrl?: string | null;
  couponCode?: string | null;
  giftCardCode?: string | null;
  giftCardAmount?: number;
  /** The conversion rate of its converted lines (PricedCart.fx). */
  fx?: FxSnapshot | null;
}

@Injectable()
export class PaymentsRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * The payment, its first attempt (if any) and their timeline entries, in one statement that answers
   * with the payment's customer: given by id, or by email when written by the statements just before
   * (CustomersRepository.ensure). Returned as sent: a transaction may send COMMIT right behind it.
   */
  insert(
    payment: NewPayment,
    attempt: Omit<Attempt, 'paymentId' | 'status' | 'providerRef'> | null,
    tx: Executor,
  ): Promise<{ rows: Customer[] }> {
    return tx.query<Customer>(
      `WITH payment AS (
         INSERT INTO payments (merchant_id, id, status, amount, currency, provider, customer_id, checkout_session_id, lines,
                               discount, idempotency_key, retry_of, metadata, client_ip, card_fingerprint, return_url, coupon_code, gift_card_code, gift_card_amount,
                               fx)
         VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, (SELECT id FROM customers WHERE merchant_id = $1 AND email = $24)), $8, $9, $10,
                 $11, $12, $13, $18, $19, $20, $21, $22, $23, $25)
         RETURNING merchant_id, id, customer_id
       ), attempt AS (
         INSERT INTO payment_attempts (merchant_id, id, payment_id, provider, provider_key, payment_method, status)
         SELECT merchant_id, $14, id, $15, $16, $17, 'pending' FROM payment WHERE $14::text IS NOT NULL
       ), timeline AS (
         INSERT INTO payment_events (merchant_id, payment_id, kind, from_status, to_status, detail)
         SELECT merchant_id, id, 'status_changed', NULL, $3, '{}'::jsonb FROM payment
          UNION ALL
         SELECT merchant_id, id, 'attempt', NULL, NULL, jsonb_build_object('attemptId', $14::text, 'provider', $15::text)
           FROM payment WHERE $14::text IS NOT NULL
       )
       SELECT c.id, c.email, c.name, c.country
         FROM payment p
         JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id`,
      [
        payment.merchantId,
        payment.id,
        payment.status,
        payment.amount,
        payment.currency,
        payment.provider,
        'id' in payment.customer ? payment.customer.id : null,
        payment.checkoutSessionId,
        JSON.stringify(payment.lines),
        payment.discount,
        payment.idempotencyKey,
        payment.retryOf,
        payment.metadata,
        attempt?.id ?? null,
        attempt?.provider ?? null,
        attempt?.providerKey ?? null,
        attempt?.paymentMethod ?? null,
        payment.clientIp ?? null,
        payment.cardFingerprint ?? null,
        payment.returnUrl ?? null,
        payment.couponCode ?? null,
        payment.giftCardCode ?? null,
        payment.giftCardAmount ?? 0,
        'email' in payment.customer ? payment.customer.email : null,
        payment.fx ? JSON.stringify(payment.fx) : null,
      ],
    );
  }

  async insertAttempt(merchantId: string, attempt: Omit<Attempt, 'status' | 'providerRef'>, tx: Executor): Promise<void> {
    await tx.query(
      `WITH attempt AS (
         INSERT INTO payment_attempts (merchant_id, id, payment_id, provider, provider_key, payment_method, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending')
       ), moved AS (
         UPDATE payments SET provider = $4, updated_at = now() WHERE merchant_id = $1 AND id = $3
       )
       INSERT INTO payment_events (merchant_id, payment_id, kind, detail)
       VALUES ($1, $3, 'attempt', jsonb_build_object('attemptId', $2::text, 'provider', $4::text))`,
      [merchantId, attempt.id, attempt.paymentId, attempt.provider, attempt.providerKey, attempt.paymentMethod],
    );
  }

  /**
   * Moves a payment to `to` if, and only if, its current status allows it (payment-state.ts), records
   * the change in the timeline and, when given, the attempt's result: one statement. Null when the
   * payment was not in a status that allows the change (a repeated or late event).
   */
  async transition(
    merchantId: string,
    paymentId: string,
    to: PaymentStatus,
    changes: TransitionChanges,
    attempt: AttemptResult | null,
    detail: Record<string, unknown>,
    tx: Executor,
  ): Promise<{ from: PaymentStatus; payment: Payment } | null> {
    const { rows } = await tx.query<PaymentRow & { from_status: PaymentStatus }>(
      `WITH current AS (
         SELECT status FROM payments WHERE merchant_id = $1 AND id = $2 FOR UPDATE
       ), moved AS (
         UPDATE payments p
            SET status = $3,
                provider = coalesce($5, p.provider),
                provider_ref = coalesce($6, p.provider_ref),
                failure_code = CASE WHEN $7 THEN $8 ELSE p.failure_code END,
                failure_message = CASE WHEN $7 THEN $9 ELSE p.failure_message END,
                decline_code = CASE WHEN $7 THEN $10 ELSE p.decline_code END,
                next_action = CASE WHEN $11 THEN $12::jsonb ELSE p.next_action END,
                -- A success: the provider's settlement as its answer reports it, or the settlement job asks (now).
                settlement_status = coalesce(p.settlement_status, $19),
                settlement_fee = coalesce(p.settlement_fee, $20),
                settlement_available_on = coalesce(p.settlement_available_on, $21),
                settlement_check_at = CASE WHEN NOT $18 OR p.settlement_status IS NOT NULL THEN p.settlement_check_at
                                           WHEN $19 = 'available' THEN NULL
                                           ELSE coalesce($21, now()) END,
                updated_at = now()
           FROM current
          WHERE p.merchant_id = $1 AND p.id = $2 AND current.status = ANY($4::text[])
         RETURNING current.status AS from_status, p.*
       ), attempt AS (
         UPDATE payment_attempts
            SET status = $14, provider_ref = coalesce($15, provider_ref), error_code = $16, finished_at = now()
          WHERE merchant_id = $1 AND id = $13 AND $13::text IS NOT NULL
       ), timeline AS (
         INSERT INTO payment_events (merchant_id, payment_id, kind, from_status, to_status, detail)
         SELECT $1, $2, 'status_changed', from_status, $3, $17::jsonb FROM moved
       )
       SELECT m.*, c.email AS customer_email
         FROM moved m
         JOIN customers c ON c.merchant_id = m.merchant_id AND c.id = m.customer_id`,
      [
        merchantId,
        paymentId,
        to,
        sourcesOf(to),
        changes.provider ?? null,
        changes.providerRef ?? null,
        'failureCode' in changes || 'declineCode' in changes,
        changes.failureCode ?? null,
        changes.failureMessage ?? null,
        changes.declineCode ?? null,
        'nextAction' in changes,
        changes.nextAction ? JSON.stringify(changes.nextAction) : null,
        attempt?.attemptId ?? null,
        attempt?.status ?? null,
        attempt?.providerRef ?? null,
        attempt?.errorCode ?? null,
        detail,
        changes.settlementDue ?? false,
        changes.settlement?.status ?? null,
        changes.settlement?.fee ?? null,
        changes.settlement?.availableOn ?? null,
      ],
    );
    return rows[0] ? { from: rows[0].from_status, payment: toPayment(rows[0]) } : null;
  }

  /** Records an attempt's result without changing the payment (a failed attempt before a failover). */
  async finishAttempt(merchantId: string, paymentId: string, result: AttemptResult, tx: Executor): Promise<void> {
    await tx.query(
      `WITH attempt AS (
         UPDATE payment_attempts
            SET status = $4, provider_ref = coalesce($5, provider_ref), error_code = $6, finished_at = now()
          WHERE merchant_id = $1 AND id = $3
       )
       INSERT INTO payment_events (merchant_id, payment_id, kind, detail)
       VALUES ($1, $2, 'attempt', jsonb_build_object('attemptId', $3::text, 'status', $4::text, 'errorCode', $6::text))`,
      [merchantId, paymentId, result.attemptId, result.status, result.providerRef ?? null, result.errorCode ?? null],
    );
  }

  /** The recovery job could not resolve it this time: the others waiting are looked at first next time. */
  async touch(merchantId: string, paymentId: string): Promise<void> {
    await this.db.query(
      `UPDATE payments SET updated_at = now() WHERE merchant_id = $1 AND id = $2 AND status IN ('processing', 'requires_action')`,
      [merchantId, paymentId],
    );
  }

  async setProvider(merchantId: string, paymentId: string, provider: string, tx: Executor): Promise<void> {
    await tx.query(`UPDATE payments SET provider = $3, updated_at = now() WHERE merchant_id = $1 AND id = $2`, [
      merchantId,
      paymentId,
      provider,
    ]);
  }

  async addTimelineEntry(
    merchantId: string,
    paymentId: string,
    kind: TimelineEntry['kind'],
    detail: Record<string, unknown>,
    tx: Executor = this.db,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO payment_events (merchant_id, payment_id, kind, detail)
       VALUES ($1, $2, $3, $4)`,
      [merchantId, paymentId, kind, detail],
    );
  }

  /**
   * Flags the payment for someone to reconcile by hand: the one shape of that timeline note, `reconcile`
   * saying why, beside what it is about. Callers log the error themselves, with what only operators need.
   */
  flagForReconciliation(merchantId: string, paymentId: string, why: string, about: Record<string, unknown>, tx: Executor): Promise<void> {
    return this.addTimelineEntry(merchantId, paymentId, 'note', { ...about, reconcile: why }, tx);
  }

  async findByIds(merchantId: string, ids: string[], executor: Executor = this.db): Promise<Payment[]> {
    if (ids.length === 0) return [];
    const { rows } = await executor.query<PaymentRow>(`${SELECT_PAYMENT} WHERE p.merchant_id = $1 AND p.id = ANY($2)`, [merchantId, ids]);
    return rows.map(toPayment);
  }

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<Payment | null> {
    const { rows } = await executor.query<PaymentRow>(`${SELECT_PAYMENT} WHERE p.merchant_id = $1 AND p.id = $2`, [merchantId, id]);
    return rows[0] ? toPayment(rows[0]) : null;
  }

  /**
   * The payment as it is now, its row locked until the caller's transaction ends (writes about it from
   * then on are serialized). Only the payment's row: its customer is not locked.
   */
  async findByIdForUpdate(merchantId: string, id: string, tx: Transaction): Promise<Payment | null> {
    const { rows } = await tx.query<PaymentRow>(`${SELECT_PAYMENT} WHERE p.merchant_id = $1 AND p.id = $2 FOR UPDATE OF p`, [
      merchantId,
      id,
    ]);
    return rows[0] ? toPayment(rows[0]) : null;
  }

  async findByIdempotencyKey(merchantId: string, key: string, executor: Executor = this.db): Promise<Payment | null> {
    const { rows } = await executor.query<PaymentRow>(`${SELECT_PAYMENT} WHERE p.merchant_id = $1 AND p.idempotency_key = $2`, [
      merchantId,
      key,
    ]);
    return rows[0] ? toPayment(rows[0]) : null;
  }

  /**
   * The payment a provider event is about: the one its charge paid, or else the direct payment its
   * reference names (a charge that payment does not account for).
   */
  async findForEvent(merchantId: string, provider: string, providerRef: string, reference: string | undefined): Promise<Payment | null> {
    return (
      (await this.findByProviderRef(merchantId, provider, providerRef)) ??
      (reference?.startsWith('pay_') ? await this.findById(merchantId, reference) : null)
    );
  }

  async findByProviderRef(
    merchantId: string,
    provider: string,
    providerRef: string,
    executor: Executor = this.db,
  ): Promise<Payment | null> {
    const { rows } = await executor.query<PaymentRow>(
      `${SELECT_PAYMENT}
        WHERE p.merchant_id = $1
          AND p.provider = $2
          AND (p.provider_ref = $3
               OR p.id = (SELECT a.payment_id FROM payment_attempts a
                           WHERE a.merchant_id = $1 AND a.provider = $2 AND a.provider_ref = $3
                           LIMIT 1))`,
      [merchantId, provider, providerRef],
    );
    return rows[0] ? toPayment(rows[0]) : null;
  }

  async latestAttempt(merchantId: string, paymentId: string, executor: Executor = this.db): Promise<Attempt | null> {
    const { rows } = await executor.query<Attempt>(
      `SELECT id, payment_id AS "paymentId", provider, provider_key AS "providerKey", payment_method AS "paymentMethod",
              status, provider_ref AS "providerRef"
         FROM payment_attempts
        WHERE merchant_id = $1
          AND payment_id = $2
        ORDER BY created_at DESC, id DESC
        LIMIT 1`,
      [merchantId, paymentId],
    );
    return rows[0] ?? null;
  }

  async timeline(merchantId: string, paymentId: string, executor: Executor = this.db): Promise<TimelineEntry[]> {
    const { rows } = await executor.query<TimelineEntry>(
      `SELECT kind, from_status AS "fromStatus", to_status AS "toStatus", detail, created_at AS "createdAt"
         FROM payment_events
        WHERE merchant_id = $1
          AND payment_id = $2
        ORDER BY id`,
      [merchantId, paymentId],
    );
    return rows;
  }

  /** Holds `amount` for a refund in flight; null when the payment cannot take it (status or remaining amount). */
  async reserveRefund(merchantId: string, paymentId: string, amount: number, tx: Executor): Promise<Payment | null> {
    const { rowCount } = await tx.query(
      `UPDATE payments
          SET amount_refund_pending = amount_refund_pending + $3,
              updated_at = now()
        WHERE merchant_id = $1
          AND id = $2
          AND status IN ('succeeded', 'partially_refunded')
          AND amount_refunded + amount_refund_pending + $3 <= amount`,
      [merchantId, paymentId, amount],
    );
    return rowCount === 1 ? this.findById(merchantId, paymentId, tx) : null;
  }

  /** Turns a held refund amount into a refunded one (and the status with it), or releases it. */
  async settleRefund(merchantId: string, paymentId: string, amount: number, succeeded: boolean, tx: Executor): Promise<void> {
    await tx.query(
      `WITH moved AS (
         UPDATE payments p
            SET amount_refund_pending = p.amount_refund_pending - $3,
                amount_refunded = p.amount_refunded + CASE WHEN $4 THEN $3 ELSE 0 END,
                status = CASE WHEN NOT $4 THEN p.status
                              WHEN p.amount_refunded + $3 = p.amount THEN 'refunded'
                              ELSE 'partially_refunded' END,
                updated_at = now()
           FROM (SELECT status FROM payments WHERE merchant_id = $1 AND id = $2 FOR UPDATE) old
          WHERE p.merchant_id = $1 AND p.id = $2
         RETURNING old.status AS from_status, p.status AS to_status
       )
       INSERT INTO payment_events (merchant_id, payment_id, kind, from_status, to_status, detail)
       SELECT $1, $2, 'status_changed', from_status, to_status, jsonb_build_object('refundAmount', $3::bigint)
         FROM moved WHERE $4`,
      [merchantId, paymentId, amount, succeeded],
    );
  }
}
