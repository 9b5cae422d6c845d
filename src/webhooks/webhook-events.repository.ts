import { Injectable } from '@nestjs/common';
import { DEFAULT_MERCHANT_ID } from '../auth/auth.types';
import { newId } from '../common/ids';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { PageRequest } from '../common/pagination';
import type { ProviderWebhookEvent } from '../payments/providers/payment-provider';

export interface StoredWebhookEvent {
  id: string;
  provider: string;
  eventId: string;
  merchantId: string | null;
  type: string;
  status: 'pending' | 'processed' | 'ignored' | 'dead';
  attempts: number;
  lastError: string | null;
  payload: ProviderWebhookEvent;
  receivedAt: Date;
  processedAt: Date | null;
}

const COLUMNS = `id, provider, event_id AS "eventId", merchant_id AS "merchantId", type, status, attempts, last_error AS "lastError",
                 payload, received_at AS "receivedAt", processed_at AS "processedAt"`;

/**
 * A stored event belongs to the merchant it names ($1: the caller's). One stored before its merchant was
 * known (a Mercado Pago notification names only a payment) is the installation's own merchant's to
 * handle ($2: the default merchant, which operates Paybridge).
 */
const VISIBLE_TO = `(merchant_id = $1 OR (merchant_id IS NULL AND $1 = $2))`;

/** How long a claimed event is reserved for the worker that claimed it. */
const LEASE_SECONDS = 60;

@Injectable()
export class WebhookEventsRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Stores a verified event once per (provider, event id); null when it was already stored. */
  async insert(provider: string, event: ProviderWebhookEvent): Promise<StoredWebhookEvent | null> {
    const { rows } = await this.db.query<StoredWebhookEvent>(
      `INSERT INTO payment_webhook_events (id, provider, event_id, merchant_id, type, payload)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (provider, event_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [newId('whe'), provider, event.eventId, event.merchantId ?? null, event.type, event],
    );
    return rows[0] ?? null;
  }

  /** Claims one due event (a lease), or null if another worker has it or it is done. */
  async claim(id: string): Promise<StoredWebhookEvent | null> {
    const { rows } = await this.db.query<StoredWebhookEvent>(
      `UPDATE payment_webhook_events
          SET attempts = attempts + 1,
              next_attempt_at = now() + make_interval(secs => $2)
        WHERE id = $1
          AND status = 'pending'
          AND next_attempt_at <= now()
       RETURNING ${COLUMNS}`,
      [id, LEASE_SECONDS],
    );
    return rows[0] ?? null;
  }

  /** Claims up to `limit` due events, skipping those another instance is claiming. */
  async claimDue(limit: number): Promise<StoredWebhookEvent[]> {
    const { rows } = await this.db.query<StoredWebhookEvent>(
      `UPDATE payment_webhook_events
          SET attempts = attempts + 1,
              next_attempt_at = now() + make_interval(secs => $2)
        WHERE id IN (SELECT id FROM payment_webhook_events
                      WHERE status = 'pending' AND next_attempt_at <= now()
                      ORDER BY received_at
                      LIMIT $1
                      FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [limit, LEASE_SECONDS],
    );
    return rows;
  }

  async markDone(id: string, status: 'processed' | 'ignored', executor: Executor = this.db): Promise<void> {
    await executor.query(`UPDATE payment_webhook_events SET status = $2, processed_at = now(), last_error = NULL WHERE id = $1`, [
      id,
      status,
    ]);
  }

  /** A failed attempt: retried after `retryInSeconds`, or a dead letter when there are no attempts left. */
  async markFailed(id: string, error: string, retryInSeconds: number | null): Promise<void> {
    await this.db.query(
      `UPDATE payment_webhook_events
          SET status = CASE WHEN $3::int IS NULL THEN 'dead' ELSE 'pending' END,
              next_attempt_at = now() + make_interval(secs => coalesce($3::int, 0)),
              last_error = $2
        WHERE id = $1`,
      [id, error.slice(0, 2000), retryInSeconds],
    );
  }

  /** The dead letters a merchant's admin may see (VISIBLE_TO), by page or after a cursor (`startingAfter`). */
  async listDead(merchantId: string, page: PageRequest, executor: Executor = this.db): Promise<StoredWebhookEvent[]> {
    const { rows } = await executor.query<StoredWebhookEvent>(
      `SELECT ${COLUMNS}
         FROM payment_webhook_events
        WHERE status = 'dead'
          AND ${VISIBLE_TO}
          AND ($5::text IS NULL
               OR (received_at, id) < (SELECT after.received_at, after.id
                                         FROM payment_webhook_events after
                                        WHERE after.id = $5
                                          AND (after.merchant_id = $1 OR (after.merchant_id IS NULL AND $1 = $2))))
        ORDER BY received_at DESC, id DESC
        LIMIT $3 OFFSET $4`,
      [merchantId, DEFAULT_MERCHANT_ID, page.limit + 1, page.offset, page.startingAfter ?? null],
    );
    return rows;
  }

  /** A dead letter the merchant's admin may see goes back to the queue with fresh attempts. */
  async revive(merchantId: string, id: string): Promise<StoredWebhookEvent | null> {
    const { rows } = await this.db.query<StoredWebhookEvent>(
      `UPDATE payment_webhook_events
          SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
        WHERE id = $3 AND status = 'dead'
          AND ${VISIBLE_TO}
       RETURNING ${COLUMNS}`,
      [merchantId, DEFAULT_MERCHANT_ID, id],
    );
    return rows[0] ?? null;
  }
}
