import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';

/** The test clock's per-merchant offsets (table billing_clocks). */
@Injectable()
export class BillingClockRepository {
  constructor(private readonly db: DatabaseService) {}

  /** The merchant's billing time now: real time plus its offset, as the database sees it. */
  async now(merchantId: string, executor: Executor = this.db): Promise<Date> {
    const { rows } = await executor.query<{ now: Date }>(
      `SELECT now() + make_interval(secs => coalesce((SELECT offset_seconds FROM billing_clocks WHERE merchant_id = $1), 0)) AS now`,
      [merchantId],
    );
    return rows[0].now;
  }

  /** Moves the merchant's billing time forward by `seconds`; answers the new time. */
  async advance(merchantId: string, seconds: number, executor: Executor = this.db): Promise<Date> {
    const { rows } = await executor.query<{ now: Date }>(
      `INSERT INTO billing_clocks (merchant_id, offset_seconds)
       VALUES ($1, $2)
       ON CONFLICT (merchant_id) DO UPDATE
          SET offset_seconds = billing_clocks.offset_seconds + $2,
              updated_at = now()
       RETURNING now() + make_interval(secs => offset_seconds) AS now`,
      [merchantId, seconds],
    );
    return rows[0].now;
  }
}
