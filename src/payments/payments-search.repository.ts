import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { SELECT_PAYMENT } from './payments.repository';
import type { Attempt, Payment, PaymentRow, PaymentStatus } from './payments.types';
import { toPayment } from './payments.types';

export interface PaymentFilter {
  status?: PaymentStatus;
  provider?: string;
  customerEmail?: string;
  from?: Date;
  to?: Date;
}

export interface UnresolvedPayment {
  merchantId: string;
  paymentId: string;
  status: PaymentStatus;
  idempotencyKey: string | null;
  attempt: Attempt | null;
  createdAt: Date;
}

/** Which payments: filtered lists for the API, and the unresolved ones the recovery job looks at. */
@Injectable()
export class PaymentsSearchRepository {
  constructor(private readonly db: DatabaseService) {}

  async list(merchantId: string, filter: PaymentFilter, page: PageRequest, executor: Executor = this.db): Promise<Payment[]> {
    const { rows } = await executor.query<PaymentRow>(
      `${SELECT_PAYMENT}
        WHERE p.merchant_id = $1
          AND ($2::text IS NULL OR p.status = $2)
          AND ($3::text IS NULL OR p.provider = $3)
          AND ($4::text IS NULL OR c.email = lower($4))
          AND ($5::timestamptz IS NULL OR p.created_at >= $5)
          AND ($6::timestamptz IS NULL OR p.created_at < $6)
          AND ($7::text IS NULL
               OR (p.created_at, p.id) < (SELECT s.created_at, s.id FROM payments s WHERE s.merchant_id = $1 AND s.id = $7))
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT $8 OFFSET $9`,
      [
        merchantId,
        filter.status ?? null,
        filter.provider ?? null,
        filter.customerEmail ?? null,
        filter.from ?? null,
        filter.to ?? null,
        page.startingAfter ?? null,
        page.limit + 1,
        page.offset,
      ],
    );
    return rows.map(toPayment);
  }

  async count(merchantId: string, filter: PaymentFilter, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT count(*)::int AS n
         FROM payments p
         JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
        WHERE p.merchant_id = $1
          AND ($2::text IS NULL OR p.status = $2)
          AND ($3::text IS NULL OR p.provider = $3)
          AND ($4::text IS NULL OR c.email = lower($4))
          AND ($5::timestamptz IS NULL OR p.created_at >= $5)
          AND ($6::timestamptz IS NULL OR p.created_at < $6)`,
      [merchantId, filter.status ?? null, filter.provider ?? null, filter.customerEmail ?? null, filter.from ?? null, filter.to ?? null],
    );
    return rows[0].n;
  }

  /**
   * Payments left unresolved: in processing (a crash or an unknown outcome) or waiting on a customer
   * action past the deadline, older than minAgeSeconds, and not held by a live request (their
   * idempotency key is unlocked or its lock is stale).
   */
  async findUnresolved(
    minAgeSeconds: number,
    lockTimeoutSeconds: number,
    deadlineHours: number,
    limit: number,
  ): Promise<UnresolvedPayment[]> {
    const { rows } = await this.db.query<{
      merchant_id: string;
      id: string;
      status: PaymentStatus;
      idempotency_key: string | null;
      created_at: Date;
      attempt_id: string | null;
      provider: Attempt['provider'] | null;
      provider_key: string | null;
      payment_method: string | null;
      attempt_status: Attempt['status'] | null;
      attempt_ref: string | null;
    }>(
      `SELECT p.merchant_id, p.id, p.status, p.idempotency_key, p.created_at,
              a.id AS attempt_id, a.provider, a.provider_key, a.payment_method, a.status AS attempt_status, a.provider_ref AS attempt_ref
         FROM payments p
         LEFT JOIN LATERAL (SELECT * FROM payment_attempts a
                             WHERE a.merchant_id = p.merchant_id AND a.payment_id = p.id
                             ORDER BY a.created_at DESC, a.id DESC LIMIT 1) a ON true
        WHERE ((p.status = 'processing' AND p.updated_at < now() - make_interval(secs => $1))
               OR (p.status = 'requires_action' AND p.created_at < now() - make_interval(hours => $3)))
          AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
                           WHERE k.merchant_id = p.merchant_id AND k.key = p.idempotency_key
                             AND k.lock_token IS NOT NULL AND k.locked_at >= now() - make_interval(secs => $2))
        ORDER BY p.updated_at
        LIMIT $4`,
      [minAgeSeconds, lockTimeoutSeconds, deadlineHours, limit],
    );
    return rows.map((r) => ({
      merchantId: r.merchant_id,
      paymentId: r.id,
      status: r.status,
      idempotencyKey: r.idempotency_key,
      createdAt: r.created_at,
      attempt: r.attempt_id
        ? {
            id: r.attempt_id,
            paymentId: r.id,
            provider: r.provider!,
            providerKey: r.provider_key!,
            paymentMethod: r.payment_method,
            status: r.attempt_status!,
            providerRef: r.attempt_ref,
          }
        : null,
    }));
  }
}
