import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import { LOCK_LOST_SQLSTATE } from '../errors/domain-errors';
import type { IdempotencyContext } from './idempotency.decorator';

export interface IdempotencyRequest {
  merchantId: string;
  key: string;
  method: string;
  path: string;
  hash: string;
}

export interface StoredResponse {
  status: number;
  body: string;
}

/**
 * How a final answer reaches an idempotency key, inside the transaction that produces it: the live
 * request's own key (`owned`), or the key of a request whose process died (`abandoned`).
 */
export type KeyCompletion = (tx: Executor, response: StoredResponse) => Promise<unknown>;

export type ClaimResult =
  | { outcome: 'claimed'; lockToken: string; recoveryPoint: string }
  | { outcome: 'replay'; response: StoredResponse; expiresAt: Date }
  | { outcome: 'mismatch' }
  | { outcome: 'in_use' };

/**
 * What a final answer writes to its key, whoever stores it (the live request or a recovery job): the
 * response, and the key unlocked for good. The statements using it pass the response as $4 and $5.
 */
const STORE_RESPONSE = `
  UPDATE idempotency_keys
     SET response_status = $4,
         response_body = $5,
         recovery_point = 'finished',
         lock_token = NULL,
         locked_at = NULL`;

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * One statement claims the key: a new key, an expired one, or one whose lock went stale (its process
   * died) is locked for this request. Otherwise the existing row says what to answer.
   */
  async claim(req: IdempotencyRequest, lockToken: string, ttlHours: number, lockTimeoutSeconds: number): Promise<ClaimResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      // One round trip: the claim, or else the existing row (as of this statement's snapshot). Its commit
      // need not wait for the disk: see DatabaseService.commitWithoutFlush.
      const { rows } = await this.db.commitWithoutFlush<{
        claimed: boolean;
        recovery_point: string;
        request_hash: string | null;
        response_status: number | null;
        response_body: string | null;
        expires_at: Date | null;
      }>(
        `WITH claimed AS (
           INSERT INTO idempotency_keys
                  (merchant_id, key, request_method, request_path, request_hash, lock_token, locked_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, now(), now() + make_interval(hours => $7))
           ON CONFLICT (merchant_id, key) DO UPDATE
              SET request_method = EXCLUDED.request_method,
                  request_path = EXCLUDED.request_path,
                  request_hash = EXCLUDED.request_hash,
                  lock_token = EXCLUDED.lock_token,
                  locked_at = now(),
                  recovery_point = CASE WHEN idempotency_keys.expires_at <= now() THEN 'started'
                                        ELSE idempotency_keys.recovery_point END,
                  response_status = NULL,
                  response_body = NULL,
                  expires_at = greatest(idempotency_keys.expires_at, EXCLUDED.expires_at)
            WHERE idempotency_keys.expires_at <= now()
               OR (idempotency_keys.response_status IS NULL
                   AND idempotency_keys.request_hash = EXCLUDED.request_hash
                   AND (idempotency_keys.locked_at IS NULL
                        OR idempotency_keys.locked_at < now() - make_interval(secs => $8)))
           RETURNING recovery_point
         )
         SELECT true AS claimed, recovery_point, NULL::text AS request_hash, NULL::int AS response_status, NULL::text AS response_body,
                NULL::timestamptz AS expires_at
           FROM claimed
          UNION ALL
         SELECT false, k.recovery_point, k.request_hash, k.response_status, k.response_body, k.expires_at
           FROM idempotency_keys k
          WHERE k.merchant_id = $1
            AND k.key = $2
            AND NOT EXISTS (SELECT 1 FROM claimed)`,
        [req.merchantId, req.key, req.method, req.path, req.hash, lockToken, ttlHours, lockTimeoutSeconds],
      );
      const row = rows[0];
      if (!row) continue; // inserted or released by a concurrent request after this snapshot: look again
      if (row.claimed) return { outcome: 'claimed', lockToken, recoveryPoint: row.recovery_point };
      if (row.request_hash !== req.hash) return { outcome: 'mismatch' };
      if (row.response_status !== null)
        return {
          outcome: 'replay',
          response: { status: row.response_status, body: row.response_body ?? '' },
          expiresAt: row.expires_at as Date,
        };
      return { outcome: 'in_use' };
    }
    return { outcome: 'in_use' };
  }

  /** Stores the final response and unlocks; does nothing if this request no longer holds the lock. */
  async complete(merchantId: string, key: string, lockToken: string, response: StoredResponse): Promise<void> {
    await this.store(merchantId, key, lockToken, response, false, this.db);
  }

  /**
   * The statement of complete() and completeOwned(): with `mustHold`, it fails (SQLSTATE PB409) when
   * this request no longer holds the lock.
   */
  private store(merchantId: string, key: string, lockToken: string, response: StoredResponse, mustHold: boolean, executor: Executor) {
    return executor.query(
      `WITH completed AS (${STORE_RESPONSE}
          WHERE merchant_id = $1
            AND key = $2
            AND lock_token = $3
         RETURNING 1
       )
       SELECT CASE WHEN $6 THEN paybridge_expect(EXISTS (SELECT 1 FROM completed), $7, $8) END`,
      [merchantId, key, lockToken, response.status, response.body, mustHold, LOCK_LOST_SQLSTATE, 'idempotency key lock lost'],
    );
  }

  /**
   * Stores the final response of a request nobody is waiting on any more (its process died): used by
   * recovery jobs, so that the client's retry replays the outcome. Does nothing while a live request
   * holds the key.
   */
  async completeAbandoned(
    merchantId: string,
    key: string,
    lockTimeoutSeconds: number,
    response: StoredResponse,
    executor: Executor = this.db,
  ): Promise<boolean> {
    const { rowCount } = await executor.query(
      `${STORE_RESPONSE}
        WHERE merchant_id = $1
          AND key = $2
          AND response_status IS NULL
          AND (lock_token IS NULL OR locked_at < now() - make_interval(secs => $3))`,
      [merchantId, key, lockTimeoutSeconds, response.status, response.body],
    );
    return rowCount === 1;
  }

  owned(ctx: IdempotencyContext): KeyCompletion {
    return (tx, response) => this.completeOwned(ctx, response, tx);
  }

  abandoned(merchantId: string, key: string, lockTimeoutSeconds: number): KeyCompletion {
    return (tx, response) => this.completeAbandoned(merchantId, key, lockTimeoutSeconds, response, tx);
  }

  /**
   * A phased handler's last phase: stores its answer in the same transaction, and marks it done. The
   * statement fails (409 idempotency_key_in_use) if this request no longer holds the lock; it is the
   * statement's own promise, so the transaction may send COMMIT with it.
   */
  completeOwned(ctx: IdempotencyContext, response: StoredResponse, tx: Executor): Promise<unknown> {
    return this.store(ctx.merchantId, ctx.key, ctx.lockToken, response, true, tx);
  }

  /**
   * A phased handler's intermediate phase committed: the next attempt resumes from `recoveryPoint`.
   * Fails like completeOwned() when the lock was lost.
   */
  advance(ctx: IdempotencyContext, recoveryPoint: string, tx: Executor): Promise<unknown> {
    return tx.query(
      `WITH advanced AS (
         UPDATE idempotency_keys
            SET recovery_point = $4,
                locked_at = now()
          WHERE merchant_id = $1
            AND key = $2
            AND lock_token = $3
         RETURNING 1
       )
       SELECT paybridge_expect(EXISTS (SELECT 1 FROM advanced), $5, $6)`,
      [ctx.merchantId, ctx.key, ctx.lockToken, recoveryPoint, LOCK_LOST_SQLSTATE, 'idempotency key lock lost'],
    );
  }

  /** Forgets a key whose request had no effect, so the client may retry it. */
  async release(merchantId: string, key: string, lockToken: string): Promise<void> {
    await this.db.query(
      `DELETE FROM idempotency_keys
        WHERE merchant_id = $1
          AND key = $2
          AND lock_token = $3`,
      [merchantId, key, lockToken],
    );
  }

  /** Unlocks without forgetting: a later retry resumes from the recovery point. */
  async unlock(merchantId: string, key: string, lockToken: string): Promise<void> {
    await this.db.query(
      `UPDATE idempotency_keys
          SET lock_token = NULL,
              locked_at = NULL
        WHERE merchant_id = $1
          AND key = $2
          AND lock_token = $3`,
      [merchantId, key, lockToken],
    );
  }

  async deleteExpired(limit: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM idempotency_keys
        WHERE ctid IN (SELECT ctid
                         FROM idempotency_keys
                        WHERE expires_at < now()
                          AND lock_token IS NULL
                        LIMIT $1)`,
      [limit],
    );
    return rowCount ?? 0;
  }
}
