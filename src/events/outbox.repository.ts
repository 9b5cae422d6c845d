import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { DomainEvent, DomainEventInput } from './events.types';

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
}
