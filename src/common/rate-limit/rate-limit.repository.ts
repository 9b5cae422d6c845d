import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';

export interface RateLimitSubject {
  merchantId: string;
  bucket: string;
  apiKeyId: string;
  clientIp: string;
}

export interface RateLimitCount {
  /** Requests counted in the current window, this one included. */
  count: number;
  /** Milliseconds until the window ends (by the database's clock): when a refused client may come back. */
  resetMs: number;
}

@Injectable()
export class RateLimitRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Counts one request in the current one-minute window and returns the window's total: one statement,
   * atomic under any concurrency. The window comes from the database's clock, so every instance agrees
   * on it whatever its own clock says.
   */
  async hit(subject: RateLimitSubject): Promise<RateLimitCount> {
    const { rows } = await this.db.query<RateLimitCount>(
      `INSERT INTO rate_limit_counters AS c (merchant_id, bucket, api_key_id, client_ip, window_start, count)
       VALUES ($1, $2, $3, $4, date_trunc('minute', now()), 1)
       ON CONFLICT (merchant_id, bucket, api_key_id, client_ip, window_start) DO UPDATE
          SET count = c.count + 1
       RETURNING c.count,
                 ceil(extract(epoch FROM c.window_start + interval '1 minute' - now()) * 1000)::int AS "resetMs"`,
      [subject.merchantId, subject.bucket, subject.apiKeyId, subject.clientIp],
    );
    return rows[0];
  }

  /** Deletes the counters of windows that have ended; returns how many. */
  async deleteEndedWindows(): Promise<number> {
    const { rowCount } = await this.db.query(`DELETE FROM rate_limit_counters WHERE window_start < date_trunc('minute', now())`);
    return rowCount ?? 0;
  }
}
