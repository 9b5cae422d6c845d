import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../../common/pagination';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import type { DisableReason, NewWebhookEndpoint, WebhookEndpointChanges, WebhookEndpointRow } from './webhook-endpoints.types';

const ENDPOINT_COLUMNS = `
  w.merchant_id, w.id, w.url, w.description, w.event_types, w.status, w.disabled_reason, w.failing_since,
  w.last_success_at, w.created_at, w.updated_at`;

@Injectable()
export class WebhookEndpointsRepository {
  constructor(private readonly db: DatabaseService) {}

  async insert(merchantId: string, endpoint: NewWebhookEndpoint, executor: Executor = this.db): Promise<WebhookEndpointRow> {
    const { rows } = await executor.query<WebhookEndpointRow>(
      `INSERT INTO webhook_endpoints AS w (merchant_id, id, url, description, event_types, secret)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${ENDPOINT_COLUMNS}`,
      [merchantId, endpoint.id, endpoint.url, endpoint.description, endpoint.eventTypes, endpoint.secret],
    );
    return rows[0];
  }

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<WebhookEndpointRow | null> {
    const { rows } = await executor.query<WebhookEndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS}
         FROM webhook_endpoints w
        WHERE w.merchant_id = $1
          AND w.id = $2
          AND w.deleted_at IS NULL`,
      [merchantId, id],
    );
    return rows[0] ?? null;
  }

  /** Newest first; limit + 1 rows. */
  async list(merchantId: string, page: PageRequest, executor: Executor = this.db.reports): Promise<WebhookEndpointRow[]> {
    const { rows } = await executor.query<WebhookEndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS}
         FROM webhook_endpoints w
        WHERE w.merchant_id = $1
          AND w.deleted_at IS NULL
          AND ($4::text IS NULL OR (w.created_at, w.id) < (SELECT c.created_at, c.id FROM webhook_endpoints c WHERE c.merchant_id = $1 AND c.id = $4))
        ORDER BY w.created_at DESC, w.id DESC
        LIMIT $2 OFFSET $3`,
      [merchantId, page.limit + 1, page.offset, page.startingAfter ?? null],
    );
    return rows;
  }

  async count(merchantId: string, executor: Executor = this.db.reports): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT count(*)::int AS n
         FROM webhook_endpoints w
        WHERE w.merchant_id = $1
          AND w.deleted_at IS NULL`,
      [merchantId],
    );
    return rows[0].n;
  }

  /**
   * Changes the fields given (undefined: unchanged). Enabling clears the failure record and reason, so
   * that an endpoint enabled again gets its full allowance of days before it can be disabled again.
   */
  async update(
    merchantId: string,
    id: string,
    changes: WebhookEndpointChanges,
    executor: Executor = this.db,
  ): Promise<WebhookEndpointRow | null> {
    const { rows } = await executor.query<WebhookEndpointRow>(
      `UPDATE webhook_endpoints AS w
          SET url = coalesce($3::text, w.url),
              description = CASE WHEN $4::boolean THEN $5::text ELSE w.description END,
              event_types = CASE WHEN $6::boolean THEN $7::text[] ELSE w.event_types END,
              status = coalesce($8::text, w.status),
              disabled_reason = CASE WHEN $8 = 'enabled' THEN NULL WHEN $8 = 'disabled' THEN 'merchant' ELSE w.disabled_reason END,
              failing_since = CASE WHEN $8 = 'enabled' THEN NULL ELSE w.failing_since END,
              updated_at = now()
        WHERE w.merchant_id = $1
          AND w.id = $2
          AND w.deleted_at IS NULL
       RETURNING ${ENDPOINT_COLUMNS}`,
      [
        merchantId,
        id,
        changes.url ?? null,
        changes.description !== undefined,
        changes.description ?? null,
        changes.eventTypes !== undefined,
        changes.eventTypes ?? null,
        changes.status ?? null,
      ],
    );
    return rows[0] ?? null;
  }

  /** Disables an enabled endpoint; null when it was not enabled (already disabled, deleted, unknown). */
  async disable(merchantId: string, id: string, reason: DisableReason, executor: Executor = this.db): Promise<WebhookEndpointRow | null> {
    const { rows } = await executor.query<WebhookEndpointRow>(
      `UPDATE webhook_endpoints AS w
          SET status = 'disabled',
              disabled_reason = $3,
              updated_at = now()
        WHERE w.merchant_id = $1
          AND w.id = $2
          AND w.status = 'enabled'
          AND w.deleted_at IS NULL
       RETURNING ${ENDPOINT_COLUMNS}`,
      [merchantId, id, reason],
    );
    return rows[0] ?? null;
  }

  async softDelete(merchantId: string, id: string, executor: Executor = this.db): Promise<boolean> {
    const { rowCount } = await executor.query(
      `UPDATE webhook_endpoints
          SET deleted_at = now(),
              status = 'disabled',
              updated_at = now()
        WHERE merchant_id = $1
          AND id = $2
          AND deleted_at IS NULL`,
      [merchantId, id],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * A success clears the failure record. Written only when there is something to clear or the last
   * success is more than a minute old: an endpoint taking every delivery costs no write per delivery.
   */
  async recordSuccess(merchantId: string, id: string, executor: Executor = this.db): Promise<void> {
    await executor.query(
      `UPDATE webhook_endpoints
          SET last_success_at = now(),
              failing_since = NULL
        WHERE merchant_id = $1
          AND id = $2
          AND (failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 minute')`,
      [merchantId, id],
    );
  }

  /**
   * A failure starts the failure record unless one is running. True when the endpoint has now been
   * failing, without a success, for at least `disableAfterDays`.
   */
  async recordFailure(merchantId: string, id: string, disableAfterDays: number, executor: Executor = this.db): Promise<boolean> {
    const { rows } = await executor.query<{ overdue: boolean }>(
      `WITH started AS (
         UPDATE webhook_endpoints
            SET failing_since = now()
          WHERE merchant_id = $1
            AND id = $2
            AND status = 'enabled'
            AND failing_since IS NULL
         RETURNING failing_since
       )
       SELECT coalesce((SELECT s.failing_since FROM started s), w.failing_since) <= now() - $3::double precision * interval '1 day' AS overdue
         FROM webhook_endpoints w
        WHERE w.merchant_id = $1
          AND w.id = $2
          AND w.status = 'enabled'`,
      [merchantId, id, disableAfterDays],
    );
    return rows[0]?.overdue === true;
  }
}
