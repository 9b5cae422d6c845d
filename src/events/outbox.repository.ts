import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { PageRequest } from '../common/pagination';
import type { DomainEvent, DomainEventInput, EventType } from './events.types';

export interface EventListFilter {
  type?: EventType;
  from?: Date;
  to?: Date;
}

@Injectable()
export class OutboxRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Always called with the transaction that makes the change the event reports. One statement, returned
   * as sent (the transaction may send COMMIT right behind it).
   */
  insert(events: DomainEventInput[], tx: Executor): Promise<unknown> {
    if (events.length === 0) return Promise.resolve();
    const createdAt = new Date().toISOString();
    const envelopes = events.map((e): DomainEvent & { aggregateType: string; aggregateId: string } => ({
      id: newId('evt'),
      type: e.type,
      createdAt,
      merchantId: e.merchantId,
      data: e.data,
      aggregateType: e.aggregateType,
      aggregateId: e.aggregateId,
    }));
    return tx.query(
      `INSERT INTO outbox_events (merchant_id, id, type, aggregate_type, aggregate_id, payload)
       SELECT e.merchant_id, e.id, e.type, e.aggregate_type, e.aggregate_id, e.payload
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
              AS e (merchant_id, id, type, aggregate_type, aggregate_id, payload)`,
      [
        envelopes.map((e) => e.merchantId),
        envelopes.map((e) => e.id),
        envelopes.map((e) => e.type),
        envelopes.map((e) => e.aggregateType),
        envelopes.map((e) => e.aggregateId),
        envelopes.map(({ id, type, createdAt: at, merchantId, data }) => JSON.stringify({ id, type, createdAt: at, merchantId, data })),
      ],
    );
  }

  async countUnpublished(executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox_events WHERE published_at IS NULL`);
    return rows[0].n;
  }

  /** The merchant's events, newest first (limit + 1 rows), as they were written. */
  async list(merchantId: string, filter: EventListFilter, page: PageRequest, executor: Executor = this.db.reports): Promise<DomainEvent[]> {
    const { rows } = await executor.query<{ payload: DomainEvent }>(
      `SELECT o.payload
         FROM outbox_events o
        WHERE o.merchant_id = $1
          AND ($2::text IS NULL OR o.type = $2)
          AND ($3::timestamptz IS NULL OR o.created_at >= $3)
          AND ($4::timestamptz IS NULL OR o.created_at < $4)
          AND ($7::text IS NULL OR o.seq < (SELECT c.seq FROM outbox_events c WHERE c.merchant_id = $1 AND c.id = $7))
        ORDER BY o.seq DESC
        LIMIT $5 OFFSET $6`,
      [merchantId, filter.type ?? null, filter.from ?? null, filter.to ?? null, page.limit + 1, page.offset, page.startingAfter ?? null],
    );
    return rows.map((r) => r.payload);
  }

  async count(merchantId: string, filter: EventListFilter, executor: Executor = this.db.reports): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT count(*)::int AS n
         FROM outbox_events o
        WHERE o.merchant_id = $1
          AND ($2::text IS NULL OR o.type = $2)
          AND ($3::timestamptz IS NULL OR o.created_at >= $3)
          AND ($4::timestamptz IS NULL OR o.created_at < $4)`,
      [merchantId, filter.type ?? null, filter.from ?? null, filter.to ?? null],
    );
    return rows[0].n;
  }

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<DomainEvent | null> {
    const { rows } = await executor.query<{ payload: DomainEvent }>(
      `SELECT o.payload
         FROM outbox_events o
        WHERE o.merchant_id = $1
          AND o.id = $2`,
      [merchantId, id],
    );
    return rows[0]?.payload ?? null;
  }
}
