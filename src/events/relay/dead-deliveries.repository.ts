import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../../common/pagination';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import { ATTEMPT_LOG, DELIVERY_COLUMNS } from './deliveries.repository';
import { Delivery, DeliveryRow, toDelivery } from './deliveries.types';

/**
 * Dead deliveries as the admin dead-letter routes show and replay them, beside inbound webhook events.
 * A merchant sees only its own ($1 in every statement).
 */
@Injectable()
export class DeadDeliveriesRepository {
  constructor(private readonly db: DatabaseService) {}

  /** The merchant's dead deliveries (every sink), newest event first, each with its attempts; limit + 1 rows. */
  async listDead(merchantId: string, page: PageRequest, executor: Executor = this.db.reports): Promise<Delivery[]> {
    const { rows } = await executor.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS}, ${ATTEMPT_LOG}
         FROM event_deliveries d
        WHERE d.merchant_id = $1
          AND d.status = 'dead'
          AND ($4::text IS NULL
               OR (d.event_seq, d.id) < (SELECT c.event_seq, c.id FROM event_deliveries c WHERE c.id = $4 AND c.merchant_id = $1))
        ORDER BY d.event_seq DESC, d.id DESC
        LIMIT $2 OFFSET $3`,
      [merchantId, page.limit + 1, page.offset, page.startingAfter ?? null],
    );
    return rows.map(toDelivery);
  }

  async countDead(merchantId: string, executor: Executor = this.db.reports): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT count(*)::int AS n
         FROM event_deliveries d
        WHERE d.merchant_id = $1
          AND d.status = 'dead'`,
      [merchantId],
    );
    return rows[0].n;
  }

  /** A dead delivery of the merchant's is due again now with a fresh schedule; null when there is none. */
  async reviveDead(merchantId: string, id: string, executor: Executor = this.db): Promise<Delivery | null> {
    const { rows } = await executor.query<DeliveryRow>(
      `UPDATE event_deliveries d
          SET status = 'pending',
              attempts = 0,
              next_attempt_at = now(),
              last_status_code = NULL,
              last_error = NULL
        WHERE d.merchant_id = $1
          AND d.id = $2
          AND d.status = 'dead'
       RETURNING ${DELIVERY_COLUMNS}`,
      [merchantId, id],
    );
    return rows[0] ? toDelivery(rows[0]) : null;
  }
}
