import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { InvoiceRow, InvoiceStatus } from './subscriptions.types';

const COLUMNS = `merchant_id, id, subscription_id, kind, status, amount, discount, currency, period_start, period_end, attempts, declines,
                 retry_days, first_failed_at, grace_ends_at, next_retry_at, hard_declined, payment_id, change_product_id,
                 change_amount, created_at`;

/** A failed attempt's consequences on its invoice (dunning-rules.ts). */
export interface InvoiceFailure {
  declines: number;
  retryDays: number[] | null;
  firstFailedAt: Date | null;
  graceEndsAt: Date | null;
  nextRetryAt: Date | null;
  hardDeclined: boolean;
}

/** Invoices of subscriptions (all SQL). */
@Injectable()
export class InvoicesRepository {
  constructor(private readonly db: DatabaseService) {}

  /** The renewal invoice of the period starting at `periodStart`, created once (a unique index). */
  async ensureRenewal(
    inv: {
      merchantId: string;
      id: string;
      subscriptionId: string;
      amount: number;
      discount: number;
      currency: string;
      periodStart: Date;
      periodEnd: Date;
    },
    tx: Executor,
  ): Promise<InvoiceRow> {
    const { rows } = await tx.query<InvoiceRow>(
      `WITH inserted AS (
         INSERT INTO invoices (merchant_id, id, subscription_id, kind, status, amount, discount, currency, period_start, period_end)
         VALUES ($1, $2, $3, 'renewal', 'open', $4, $5, $6, $7, $8)
         ON CONFLICT (merchant_id, subscription_id, period_start) WHERE kind = 'renewal' DO NOTHING
         RETURNING ${COLUMNS}
       )
       SELECT * FROM inserted
        UNION ALL
       SELECT ${COLUMNS} FROM invoices WHERE merchant_id = $1 AND subscription_id = $3 AND period_start = $7 AND kind = 'renewal'
        LIMIT 1`,
      [inv.merchantId, inv.id, inv.subscriptionId, inv.amount, inv.discount, inv.currency, inv.periodStart, inv.periodEnd],
    );
    return rows[0];
  }

  /** A proration invoice (an upgrade), charged at once with `paymentId`. */
  insertProration(
    inv: {
      merchantId: string;
      id: string;
      subscriptionId: string;
      amount: number;
      currency: string;
      periodStart: Date;
      periodEnd: Date;
      paymentId: string;
      changeProductId: string;
      changeAmount: number;
    },
    tx: Executor,
  ): Promise<unknown> {
    return tx.query(
      `INSERT INTO invoices (merchant_id, id, subscription_id, kind, status, amount, currency, period_start, period_end, attempts, payment_id,
                             change_product_id, change_amount)
       VALUES ($1, $2, $3, 'proration', 'open', $4, $5, $6, $7, 1, $8, $9, $10)`,
      [
        inv.merchantId,
        inv.id,
        inv.subscriptionId,
        inv.amount,
        inv.currency,
        inv.periodStart,
        inv.periodEnd,
        inv.paymentId,
        inv.changeProductId,
        inv.changeAmount,
      ],
    );
  }

  async findForUpdate(merchantId: string, id: string, tx: Executor): Promise<InvoiceRow | null> {
    const { rows } = await tx.query<InvoiceRow>(`SELECT ${COLUMNS} FROM invoices WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, [
      merchantId,
      id,
    ]);
    return rows[0] ?? null;
  }

  /** The renewal invoice of the period starting at `periodStart`, if still open. */
  async findOpenRenewal(merchantId: string, subscriptionId: string, periodStart: Date, tx: Executor): Promise<InvoiceRow | null> {
    const { rows } = await tx.query<InvoiceRow>(
      `SELECT ${COLUMNS}
         FROM invoices
        WHERE merchant_id = $1 AND subscription_id = $2 AND period_start = $3 AND kind = 'renewal' AND status = 'open'
        FOR UPDATE`,
      [merchantId, subscriptionId, periodStart],
    );
    return rows[0] ?? null;
  }

  async findByPaymentForUpdate(merchantId: string, paymentId: string, tx: Executor): Promise<InvoiceRow | null> {
    const { rows } = await tx.query<InvoiceRow>(`SELECT ${COLUMNS} FROM invoices WHERE merchant_id = $1 AND payment_id = $2 FOR UPDATE`, [
      merchantId,
      paymentId,
    ]);
    return rows[0] ?? null;
  }

  async listForSubscription(merchantId: string, subscriptionId: string, executor: Executor = this.db): Promise<InvoiceRow[]> {
    const { rows } = await executor.query<InvoiceRow>(
      `SELECT ${COLUMNS} FROM invoices WHERE merchant_id = $1 AND subscription_id = $2 ORDER BY created_at, period_start, id`,
      [merchantId, subscriptionId],
    );
    return rows;
  }

  /** A new attempt at the invoice, paid by `paymentId` (its `attempts`-th). */
  attempt(merchantId: string, id: string, paymentId: string, attempts: number, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE invoices SET payment_id = $3, attempts = $4, next_retry_at = NULL, updated_at = now() WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, paymentId, attempts],
    );
  }

  setStatus(merchantId: string, id: string, status: InvoiceStatus, tx: Executor): Promise<unknown> {
    return tx.query(`UPDATE invoices SET status = $3, next_retry_at = NULL, updated_at = now() WHERE merchant_id = $1 AND id = $2`, [
      merchantId,
      id,
      status,
    ]);
  }

  /** The first invoice was paid: its period is the subscription's first. */
  paidFirst(merchantId: string, paymentId: string, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE invoices i
          SET status = 'paid', period_start = s.current_period_start, period_end = s.current_period_end, attempts = 1, updated_at = now()
         FROM subscriptions s
        WHERE i.merchant_id = $1 AND i.payment_id = $2 AND i.kind = 'first'
          AND s.merchant_id = i.merchant_id AND s.id = i.subscription_id`,
      [merchantId, paymentId],
    );
  }

  failed(merchantId: string, id: string, f: InvoiceFailure, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE invoices
          SET declines = $3, retry_days = $4, first_failed_at = $5, grace_ends_at = $6, next_retry_at = $7, hard_declined = $8,
              updated_at = now()
        WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, f.declines, f.retryDays, f.firstFailedAt, f.graceEndsAt, f.nextRetryAt, f.hardDeclined],
    );
  }

  /** A new method: a hard-declined invoice may be retried again, at `at`. */
  retryAt(merchantId: string, id: string, at: Date, tx: Executor): Promise<unknown> {
    return tx.query(
      `UPDATE invoices SET hard_declined = false, next_retry_at = $3, updated_at = now() WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id, at],
    );
  }
}
