import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { DisputeStatus } from './providers/payment-provider';
import type { PaymentStatus } from './payments.types';

export const TRANSACTION_KINDS = ['payment', 'dispute'] as const;
export type TransactionKind = (typeof TRANSACTION_KINDS)[number];

/** GET /transactions' filters: a payment status picks payments, a dispute status disputes. */
export interface TransactionFilter {
  kind?: TransactionKind;
  status?: PaymentStatus | DisputeStatus;
  provider?: string;
  customerEmail?: string;
  from?: Date;
  to?: Date;
}

/**
 * Payments and disputes (each filtered on its own columns; a dispute's customer is its payment's), as one
 * list newest first. Each side is ordered and cut on its own index before they are merged.
 */
const MATCHING = `
  matching AS (
    (SELECT 'payment' AS kind, p.id, p.created_at
       FROM payments p
       JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
      WHERE p.merchant_id = $1 AND ($2::text IS NULL OR $2 = 'payment')
        AND ($3::text IS NULL OR p.status = $3)
        AND ($4::text IS NULL OR p.provider = $4)
        AND ($5::text IS NULL OR c.email = lower($5))
        AND ($6::timestamptz IS NULL OR p.created_at >= $6)
        AND ($7::timestamptz IS NULL OR p.created_at < $7)
        AND ($8::text IS NULL OR (p.created_at, p.id) < (SELECT created_at, id FROM cursor))
      ORDER BY p.created_at DESC, p.id DESC
      LIMIT $9)
    UNION ALL
    (SELECT 'dispute', d.id, d.created_at
       FROM disputes d
       JOIN payments p ON p.merchant_id = d.merchant_id AND p.id = d.payment_id
       JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
      WHERE d.merchant_id = $1 AND ($2::text IS NULL OR $2 = 'dispute')
        AND ($3::text IS NULL OR d.status = $3)
        AND ($4::text IS NULL OR d.provider = $4)
        AND ($5::text IS NULL OR c.email = lower($5))
        AND ($6::timestamptz IS NULL OR d.created_at >= $6)
        AND ($7::timestamptz IS NULL OR d.created_at < $7)
        AND ($8::text IS NULL OR (d.created_at, d.id) < (SELECT created_at, id FROM cursor))
      ORDER BY d.created_at DESC, d.id DESC
      LIMIT $9)
  )`;

/** The item a `startingAfter` cursor names: a payment or a dispute of this merchant (none: an empty list). */
const CURSOR = `
  cursor AS (
    SELECT created_at, id FROM payments WHERE merchant_id = $1 AND id = $8
    UNION ALL
    SELECT created_at, id FROM disputes WHERE merchant_id = $1 AND id = $8
  )`;

@Injectable()
export class TransactionsSearchRepository {
  constructor(private readonly db: DatabaseService) {}

  /** One page of what GET /transactions lists: the kind and id of each item, newest first (one more than the limit). */
  async list(merchantId: string, filter: TransactionFilter, page: PageRequest, executor: Executor = this.db) {
    const { rows } = await executor.query<{ kind: TransactionKind; id: string }>(
      `WITH ${CURSOR}, ${MATCHING}
       SELECT kind, id FROM matching
        ORDER BY created_at DESC, id DESC
        LIMIT $10 OFFSET $11`,
      [...this.values(merchantId, filter), page.startingAfter ?? null, page.offset + page.limit + 1, page.limit + 1, page.offset],
    );
    return rows;
  }

  async count(merchantId: string, filter: TransactionFilter, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM payments p
                 JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
                WHERE p.merchant_id = $1 AND ($2::text IS NULL OR $2 = 'payment')
                  AND ($3::text IS NULL OR p.status = $3) AND ($4::text IS NULL OR p.provider = $4)
                  AND ($5::text IS NULL OR c.email = lower($5))
                  AND ($6::timestamptz IS NULL OR p.created_at >= $6) AND ($7::timestamptz IS NULL OR p.created_at < $7))::int
            + (SELECT count(*) FROM disputes d
                 JOIN payments p ON p.merchant_id = d.merchant_id AND p.id = d.payment_id
                 JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
                WHERE d.merchant_id = $1 AND ($2::text IS NULL OR $2 = 'dispute')
                  AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR d.provider = $4)
                  AND ($5::text IS NULL OR c.email = lower($5))
                  AND ($6::timestamptz IS NULL OR d.created_at >= $6) AND ($7::timestamptz IS NULL OR d.created_at < $7))::int AS n`,
      this.values(merchantId, filter),
    );
    return rows[0].n;
  }

  private values(merchantId: string, filter: TransactionFilter): unknown[] {
    return [
      merchantId,
      filter.kind ?? null,
      filter.status ?? null,
      filter.provider ?? null,
      filter.customerEmail ?? null,
      filter.from ?? null,
      filter.to ?? null,
    ];
  }
}
