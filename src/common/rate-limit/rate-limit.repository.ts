import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';

/**
 * The most tokens one lease hands out. A lease is a sixteenth of what is left of the window, so only
 * limits above 16,000 per minute reach it: it bounds what an instance can hold unspent (and lose when
 * the window ends) for the few subjects with such a limit.
 */
export const MAX_LEASE = 1000;

export interface RateLimitSubject {
  merchantId: string;
  bucket: string;
  apiKeyId: string;
  clientIp: string;
}

export interface RateLimitLease {
  /** Tokens handed out in the current window, this lease's included: it covers positions count - granted + 1 … count. */
  count: number;
  /** Tokens this lease took. */
  granted: number;
  /** Milliseconds until the window ends (by the database's clock): when the lease expires, or a refused client may come back. */
  resetMs: number;
}

@Injectable()
export class RateLimitRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Takes a lease of tokens in the current one-minute window and returns the window's new total: one
   * statement, atomic under any concurrency. The lease is a sixteenth of what the window has left
   * (at least 1, at most MAX_LEASE), decided from the row's count under its lock, so leases shrink as the
   * window fills and every instance can still get some; once fewer than 32 are left, they go one at a
   * time. The window comes from the database's clock, so every instance agrees on it whatever its own
   * clock says.
   */
  async lease(subject: RateLimitSubject, perMinute: number): Promise<RateLimitLease> {
    const { rows } = await this.db.query<RateLimitLease>(
      `INSERT INTO rate_limit_counters AS c (merchant_id, bucket, api_key_id, client_ip, window_start, count, granted)
       VALUES ($1, $2, $3, $4, date_trunc('minute', now()),
               greatest(1, least($6::bigint, $5::bigint / 16)),
               greatest(1, least($6::bigint, $5::bigint / 16)))
       ON CONFLICT (merchant_id, bucket, api_key_id, client_ip, window_start) DO UPDATE
          SET count = c.count + greatest(1, least($6::bigint, ($5::bigint - c.count) / 16)),
              granted = greatest(1, least($6::bigint, ($5::bigint - c.count) / 16))
       RETURNING c.count,
                 c.granted,
                 floor(extract(epoch FROM c.window_start + interval '1 minute' - now()) * 1000)::int AS "resetMs"`,
      [subject.merchantId, subject.bucket, subject.apiKeyId, subject.clientIp, perMinute, MAX_LEASE],
    );
    return rows[0];
  }

  /**
   * Counts one request of a subject in the current window (one token, no lease) and returns the
   * window's new total: how a route counts against another route's bucket for some requests only
   * (unknown coupon codes against `coupon-validate`).
   */
  async takeOne(subject: RateLimitSubject): Promise<{ count: number; resetMs: number }> {
    const { rows } = await this.db.query<{ count: number; resetMs: number }>(
      `INSERT INTO rate_limit_counters AS c (merchant_id, bucket, api_key_id, client_ip, window_start, count, granted)
       VALUES ($1, $2, $3, $4, date_trunc('minute', now()), 1, 1)
       ON CONFLICT (merchant_id, bucket, api_key_id, client_ip, window_start) DO UPDATE
          SET count = c.count + 1,
              granted = 1
       RETURNING c.count,
                 floor(extract(epoch FROM c.window_start + interval '1 minute' - now()) * 1000)::int AS "resetMs"`,
      [subject.merchantId, subject.bucket, subject.apiKeyId, subject.clientIp],
    );
    return rows[0];
  }

  /** The subject's count in the current window (0: none yet), without counting anything. */
  async peek(subject: RateLimitSubject): Promise<{ count: number; resetMs: number }> {
    const { rows } = await this.db.query<{ count: number; resetMs: number }>(
      `SELECT c.count,
              floor(extract(epoch FROM c.window_start + interval '1 minute' - now()) * 1000)::int AS "resetMs"
         FROM rate_limit_counters c
        WHERE c.merchant_id = $1
          AND c.bucket = $2
          AND c.api_key_id = $3
          AND c.client_ip = $4
          AND c.window_start = date_trunc('minute', now())`,
      [subject.merchantId, subject.bucket, subject.apiKeyId, subject.clientIp],
    );
    return rows[0] ?? { count: 0, resetMs: 0 };
  }

  /** Deletes the counters of windows that have ended; returns how many. */
  async deleteEndedWindows(): Promise<number> {
    const { rowCount } = await this.db.query(`DELETE FROM rate_limit_counters WHERE window_start < date_trunc('minute', now())`);
    return rowCount ?? 0;
  }
}
