import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';

export interface Refund {
  id: string;
  paymentId: string;
  amount: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed';
  reason: string | null;
  /** `api`: asked for through this API; `provider`: made at the provider (its dashboard), recorded from its report. */
  origin: 'api' | 'provider';
  provider: string;
  providerRef: string | null;
  failureCode: string | null;
  /** The part given back to the gift card that paid it (the provider's part is refunded first). */
  giftCardAmount: number;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, payment_id AS "paymentId", amount, currency, status, reason, origin, provider, provider_ref AS "providerRef",
                 failure_code AS "failureCode", gift_card_amount AS "giftCardAmount", created_at AS "createdAt", updated_at AS "updatedAt"`;

/** A refund's fields as COLUMNS names them, to select from a CTE that returned them. */
const REFUND_FIELDS = `id, "paymentId", amount, currency, status, reason, origin, provider, "providerRef", "failureCode", "giftCardAmount",
                       "createdAt", "updatedAt"`;

@Injectable()
export class RefundsRepository {
  constructor(private readonly db: DatabaseService) {}

  /** A refund of ours starts `pending`; one made at the provider is recorded as it already is, `succeeded`. */
  async insert(
    refund: {
      merchantId: string;
      id: string;
      paymentId: string;
      amount: number;
      currency: string;
      reason: string | null;
      origin: Refund['origin'];
      provider: string;
      idempotencyKey: string | null;
      giftCardAmount: number;
      status: 'pending' | 'succeeded';
    },
    tx: Executor,
  ): Promise<void> {
    await tx.query(
      `WITH refund AS (
         INSERT INTO refunds (merchant_id, id, payment_id, amount, currency, status, reason, origin, provider, idempotency_key, gift_card_amount)
         VALUES ($1, $2, $3, $4, $5, $11, $6, $7, $8, $9, $10)
       )
       INSERT INTO payment_events (merchant_id, payment_id, kind, detail)
       VALUES ($1, $3, 'refund', jsonb_build_object('refundId', $2::text, 'amount', $4::bigint, 'status', $11::text))`,
      [
        refund.merchantId,
        refund.id,
        refund.paymentId,
        refund.amount,
        refund.currency,
        refund.reason,
        refund.origin,
        refund.provider,
        refund.idempotencyKey,
        refund.giftCardAmount,
        refund.status,
      ],
    );
  }

  /** pending → succeeded | failed, once; false if it was already settled. */
  async settle(
    merchantId: string,
    id: string,
    status: 'succeeded' | 'failed',
    providerRef: string | null,
    failureCode: string | null,
    tx: Executor,
  ): Promise<Refund | null> {
    const { rows } = await tx.query<Refund>(
      `WITH settled AS (
         UPDATE refunds
            SET status = $3, provider_ref = coalesce($4, provider_ref), failure_code = $5, updated_at = now()
          WHERE merchant_id = $1 AND id = $2 AND status = 'pending'
         RETURNING ${COLUMNS}, merchant_id
       ), timeline AS (
         INSERT INTO payment_events (merchant_id, payment_id, kind, detail)
         SELECT merchant_id, "paymentId", 'refund', jsonb_build_object('refundId', id, 'amount', amount, 'status', status) FROM settled
       )
       SELECT ${REFUND_FIELDS}
         FROM settled`,
      [merchantId, id, status, providerRef, failureCode],
    );
    return rows[0] ?? null;
  }

  /**
   * What the payment's refunds in these statuses take from the provider's part (the rest went back to a
   * gift card): pending and succeeded ones before a new refund, and against what the provider shows
   * refunded (RefundsService.bookRefundsMadeAtProvider).
   */
  async providerPart(merchantId: string, paymentId: string, statuses: Array<Refund['status']>, tx: Executor = this.db): Promise<number> {
    const { rows } = await tx.query<{ taken: number }>(
      `SELECT coalesce(sum(amount - gift_card_amount), 0)::bigint AS taken
         FROM refunds
        WHERE merchant_id = $1 AND payment_id = $2 AND status = ANY($3::text[])`,
      [merchantId, paymentId, statuses],
    );
    return rows[0].taken;
  }

  /**
   * The provider took the refund and will settle it later: its ref is kept, the refund stays pending.
   * Answers with the refund, or null if it was no longer pending.
   */
  async markSent(merchantId: string, id: string, providerRef: string, tx: Executor): Promise<Refund | null> {
    const { rows } = await tx.query<Refund>(
      `WITH sent AS (
         UPDATE refunds SET provider_ref = $3, updated_at = now()
          WHERE merchant_id = $1 AND id = $2 AND status = 'pending'
         RETURNING ${COLUMNS}
       ), timeline AS (
         INSERT INTO payment_events (merchant_id, payment_id, kind, detail)
         SELECT $1, "paymentId", 'refund', jsonb_build_object('refundId', $2::text, 'amount', amount, 'status', 'pending', 'providerRef', $3::text)
           FROM sent
       )
       SELECT ${REFUND_FIELDS}
         FROM sent`,
      [merchantId, id, providerRef],
    );
    return rows[0] ?? null;
  }

  /** The recovery job could not settle it this time: it looks at the others waiting first next time. */
  async touch(merchantId: string, id: string): Promise<void> {
    await this.db.query(`UPDATE refunds SET updated_at = now() WHERE merchant_id = $1 AND id = $2 AND status = 'pending'`, [
      merchantId,
      id,
    ]);
  }

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<Refund | null> {
    const { rows } = await executor.query<Refund>(`SELECT ${COLUMNS} FROM refunds WHERE merchant_id = $1 AND id = $2`, [merchantId, id]);
    return rows[0] ?? null;
  }

  async findByIdempotencyKey(merchantId: string, key: string, executor: Executor = this.db): Promise<Refund | null> {
    const { rows } = await executor.query<Refund>(`SELECT ${COLUMNS} FROM refunds WHERE merchant_id = $1 AND idempotency_key = $2`, [
      merchantId,
      key,
    ]);
    return rows[0] ?? null;
  }

  /** Refunds whose provider call never reported back, older than minAgeSeconds. */
  async findStalePending(
    minAgeSeconds: number,
    lockTimeoutSeconds: number,
    limit: number,
  ): Promise<Array<Refund & { merchantId: string }>> {
    // Not one whose request is still live (its key locked): that request settles it itself.
    const { rows } = await this.db.query<Refund & { merchantId: string }>(
      `SELECT ${COLUMNS}, r.merchant_id AS "merchantId"
         FROM refunds r
        WHERE r.status = 'pending'
          AND r.updated_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
                           WHERE k.merchant_id = r.merchant_id AND k.key = r.idempotency_key
                             AND k.lock_token IS NOT NULL AND k.locked_at >= now() - make_interval(secs => $2))
        ORDER BY r.updated_at
        LIMIT $3`,
      [minAgeSeconds, lockTimeoutSeconds, limit],
    );
    return rows;
  }
}
