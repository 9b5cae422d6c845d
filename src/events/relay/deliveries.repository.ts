import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../../common/pagination';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import {
  ClaimedDelivery,
  ClaimedDeliveryRow,
  Delivery,
  DeliveryRow,
  DeliveryStatus,
  ENDPOINT_SINK,
  FannedOutDelivery,
  toClaimedDelivery,
  toDelivery,
} from './deliveries.types';

export const DELIVERY_COLUMNS = `
  d.id, d.event_id, d.event_type, d.sink, d.target, d.status, d.attempts, d.last_status_code, d.last_error,
  d.next_attempt_at, d.delivered_at, d.created_at`;

export const ATTEMPT_LOG = `
  (SELECT coalesce(json_agg(json_build_object(
            'attempt', a.attempt, 'attempted_at', a.attempted_at, 'duration_ms', a.duration_ms,
            'status_code', a.status_code, 'error', a.error) ORDER BY a.id), '[]')
     FROM event_delivery_attempts a
    WHERE a.delivery_id = d.id) AS attempt_log`;

export interface ClaimRequest {
  limit: number;
  /** The sinks this instance delivers to, and how many deliveries each target may have in flight here. */
  sinks: Array<{ sink: string; perTarget: number }>;
  /** Targets with deliveries in flight here: how many more each may take (0: none). */
  inFlight: Array<{ target: string; free: number }>;
  /** A claimed delivery is due again after this long if its claimer never records an outcome (a crash). */
  leaseMs: number;
}

/** A global sink and the event types it takes (undefined: all). */
export interface GlobalSinkFilter {
  sink: string;
  eventTypes?: readonly string[];
}

export interface FanOutResult {
  /** Outbox rows fanned out. */
  fanned: number;
  /** New deliveries of sinks that prepare theirs, per sink. */
  toPrepare: Map<string, FannedOutDelivery[]>;
}

export interface RecordedAttempt {
  status: Exclude<DeliveryStatus, 'pending'>;
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  /** For a failed delivery: when to try again. */
  retryInMs: number | null;
}

@Injectable()
export class DeliveriesRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Turns the oldest outbox rows not fanned out yet into one delivery per matching enabled endpoint of
   * their merchant and per global sink, and marks them fanned out (published_at), in one statement.
   * Only committed rows are visible here, so nothing is delivered before its transaction committed.
   * Order per aggregate follows seq, which is commit order because writers insert an aggregate's events
   * while holding its row lock (the payment, refund or gift-card UPDATE comes first in their transaction).
   * Returns how many outbox rows it fanned out.
   */
  async fanOut(
    limit: number,
    globalSinks: GlobalSinkFilter[],
    prepareSinks: string[],
    executor: Executor = this.db,
  ): Promise<FanOutResult> {
    const { rows } = await executor.query<{
      fanned: number;
      to_prepare: Array<{ id: string; sink: string; merchant_id: string; event_id: string }>;
    }>(
      `WITH batch AS (
         SELECT o.merchant_id, o.id, o.seq, o.type, o.aggregate_type, o.aggregate_id, o.created_at
           FROM outbox_events o
          WHERE o.published_at IS NULL
          ORDER BY o.seq
          LIMIT $1
       ), targets AS (
         SELECT b.merchant_id, b.id, b.seq, b.type, b.aggregate_type, b.aggregate_id, b.created_at,
                '${ENDPOINT_SINK}' AS sink, w.id AS target
           FROM batch b
           JOIN webhook_endpoints w
             ON w.merchant_id = b.merchant_id
            AND w.status = 'enabled'
            AND w.deleted_at IS NULL
            AND (w.event_types IS NULL OR b.type = ANY (w.event_types))
         UNION ALL
         SELECT b.merchant_id, b.id, b.seq, b.type, b.aggregate_type, b.aggregate_id, b.created_at, s.sink, s.sink
           FROM batch b
          CROSS JOIN unnest($2::text[], $3::text[]) AS s (sink, types)
          WHERE s.types IS NULL OR b.type = ANY (string_to_array(s.types, ','))
       ), inserted AS (
         INSERT INTO event_deliveries (id, merchant_id, event_id, event_seq, event_type, event_created_at, aggregate_key, sink, target)
         SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), t.merchant_id, t.id, t.seq, t.type, t.created_at,
                t.aggregate_type || ':' || t.aggregate_id, t.sink, t.target
           FROM targets t
             ON CONFLICT (target, merchant_id, event_id) DO NOTHING
         RETURNING id, sink, merchant_id, event_id
       ), published AS (
         UPDATE outbox_events o
            SET published_at = now()
           FROM batch b
          WHERE o.merchant_id = b.merchant_id
            AND o.id = b.id
         RETURNING o.id
       )
       SELECT (SELECT count(*)::int FROM published) AS fanned,
              (SELECT coalesce(json_agg(json_build_object('id', i.id, 'sink', i.sink, 'merchant_id', i.merchant_id, 'event_id', i.event_id)), '[]')
                 FROM inserted i
                WHERE i.sink = ANY ($4::text[])) AS to_prepare`,
      [limit, globalSinks.map((g) => g.sink), globalSinks.map((g) => g.eventTypes?.join(',') ?? null), prepareSinks],
    );
    const toPrepare = new Map<string, FannedOutDelivery[]>();
    for (const r of rows[0].to_prepare) {
      const list = toPrepare.get(r.sink) ?? [];
      list.push({ id: r.id, merchantId: r.merchant_id, eventId: r.event_id });
      toPrepare.set(r.sink, list);
    }
    return { fanned: rows[0].fanned, toPrepare };
  }

  /** Stores what a sink prepared for its deliveries (Sink.prepare), in the fan-out transaction. */
  async setPrepared(prepared: Array<{ id: string; payload: Record<string, unknown> }>, executor: Executor = this.db): Promise<void> {
    if (prepared.length === 0) return;
    await executor.query(
      `UPDATE event_deliveries d
          SET prepared_payload = i.payload
         FROM unnest($1::text[], $2::jsonb[]) AS i (id, payload)
        WHERE d.id = i.id`,
      [prepared.map((p) => p.id), prepared.map((p) => JSON.stringify(p.payload))],
    );
  }

  /**
   * A notice about another delivery (Slack's dead-delivery message): a delivery of the same event to
   * `sink`, target `target`, carrying its prepared payload. A notice already there is sent again.
   */
  async insertNotice(
    deliveryId: string,
    sink: string,
    target: string,
    payload: Record<string, unknown>,
    executor: Executor = this.db,
  ): Promise<void> {
    await executor.query(
      `INSERT INTO event_deliveries AS d (id, merchant_id, event_id, event_seq, event_type, event_created_at, aggregate_key, sink, target, prepared_payload)
       SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), s.merchant_id, s.event_id, s.event_seq, s.event_type, s.event_created_at,
              s.aggregate_key, $2, $3, $4::jsonb
         FROM event_deliveries s
        WHERE s.id = $1
           ON CONFLICT (target, merchant_id, event_id) DO UPDATE
          SET status = 'pending',
              attempts = 0,
              next_attempt_at = now(),
              delivered_at = NULL,
              prepared_payload = excluded.prepared_payload`,
      [deliveryId, sink, target, JSON.stringify(payload)],
    );
  }

  /** Fan-out has one runner at a time across instances (a transaction-level advisory lock). */
  async tryFanOutLock(tx: Executor): Promise<boolean> {
    const { rows } = await tx.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_xact_lock(hashtext('paybridge:outbox-fan-out')) AS locked`,
    );
    return rows[0].locked;
  }

  /**
   * Claims due deliveries in one short statement and leases them (next_attempt_at moves past the lease),
   * so no transaction stays open while they are sent. A delivery is not claimed while an earlier event
   * of its aggregate to the same target is still undelivered and not dead: order per aggregate per target.
   * Rows another instance is claiming are skipped, not waited for.
   */
  async claim(request: ClaimRequest, executor: Executor = this.db): Promise<ClaimedDelivery[]> {
    const busy = request.inFlight.filter((t) => t.free <= 0).map((t) => t.target);
    const { rows } = await executor.query<ClaimedDeliveryRow>(
      `WITH candidates AS (
         SELECT d.id, d.sink, d.target, d.next_attempt_at, d.event_seq
           FROM event_deliveries d
          WHERE d.status IN ('pending', 'failed')
            AND d.next_attempt_at <= now()
            AND d.sink = ANY ($2::text[])
            AND d.target <> ALL ($4::text[])
            AND NOT EXISTS (
                  SELECT 1
                    FROM event_deliveries e
                   WHERE e.target = d.target
                     AND e.aggregate_key = d.aggregate_key
                     AND e.event_seq < d.event_seq
                     AND e.status IN ('pending', 'failed'))
          ORDER BY d.next_attempt_at
          LIMIT $1::int * 4
            FOR UPDATE SKIP LOCKED
       ), picked AS (
         SELECT c.id
           FROM (SELECT c.id, c.sink, c.target, c.next_attempt_at,
                        row_number() OVER (PARTITION BY c.target ORDER BY c.next_attempt_at, c.event_seq) AS n
                   FROM candidates c) c
           JOIN unnest($2::text[], $3::int[]) AS s (sink, per_target) ON s.sink = c.sink
           LEFT JOIN unnest($5::text[], $6::int[]) AS f (target, free) ON f.target = c.target
          WHERE c.n <= coalesce(f.free, s.per_target)
          ORDER BY c.next_attempt_at
          LIMIT $1
       ), claimed AS (
         UPDATE event_deliveries d
            SET attempts = d.attempts + 1,
                next_attempt_at = now() + make_interval(secs => $7::double precision)
           FROM picked p
          WHERE d.id = p.id
         RETURNING d.id, d.merchant_id, d.event_id, d.event_type, d.sink, d.target, d.attempts, d.event_created_at, d.prepared_payload
       )
       SELECT c.id, c.merchant_id, c.event_id, c.event_type, c.sink, c.target, c.attempts, c.event_created_at, c.prepared_payload,
              o.payload, w.url AS endpoint_url, w.secret AS endpoint_secret,
              (w.status = 'enabled' AND w.deleted_at IS NULL) AS endpoint_enabled
         FROM claimed c
         JOIN outbox_events o ON o.merchant_id = c.merchant_id AND o.id = c.event_id
         LEFT JOIN webhook_endpoints w ON c.sink = '${ENDPOINT_SINK}' AND w.merchant_id = c.merchant_id AND w.id = c.target`,
      [
        request.limit,
        request.sinks.map((s) => s.sink),
        request.sinks.map((s) => s.perTarget),
        busy,
        request.inFlight.map((t) => t.target),
        request.inFlight.map((t) => Math.max(0, t.free)),
        request.leaseMs / 1000,
      ],
    );
    return rows.map(toClaimedDelivery);
  }

  /**
   * Records attempts (one statement for a batch) and what each made of its delivery. A delivery closed
   * meanwhile (its endpoint disabled) stays closed; its attempt is recorded all the same.
   */
  async recordAttempts(attempts: Array<{ deliveryId: string } & RecordedAttempt>, executor: Executor = this.db): Promise<void> {
    await executor.query(
      `WITH input AS (
         SELECT i.delivery_id, i.status, i.status_code, i.error, i.retry_seconds, i.attempt, i.attempted_at, i.duration_ms
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::double precision[], $6::int[], $7::timestamptz[], $8::int[])
                AS i (delivery_id, status, status_code, error, retry_seconds, attempt, attempted_at, duration_ms)
       ), updated AS (
         UPDATE event_deliveries d
            SET status = i.status,
                last_status_code = i.status_code,
                last_error = i.error,
                next_attempt_at = CASE WHEN i.status = 'failed' THEN now() + make_interval(secs => i.retry_seconds) ELSE d.next_attempt_at END,
                delivered_at = CASE WHEN i.status = 'delivered' THEN now() ELSE d.delivered_at END
           FROM input i
          WHERE d.id = i.delivery_id
            AND d.status IN ('pending', 'failed')
       )
       INSERT INTO event_delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, status_code, error)
       SELECT i.delivery_id, i.attempt, i.attempted_at, i.duration_ms, i.status_code, i.error
         FROM input i`,
      [
        attempts.map((a) => a.deliveryId),
        attempts.map((a) => a.status),
        attempts.map((a) => a.statusCode),
        attempts.map((a) => a.error),
        attempts.map((a) => (a.retryInMs ?? 0) / 1000),
        attempts.map((a) => a.attempt),
        attempts.map((a) => a.attemptedAt),
        attempts.map((a) => a.durationMs),
      ],
    );
  }

  /** Closes every open delivery to a target (an endpoint disabled or deleted): they will not be sent. */
  async closeOpenForTarget(target: string, reason: string, executor: Executor = this.db): Promise<number> {
    const { rowCount } = await executor.query(
      `UPDATE event_deliveries
          SET status = 'dead',
              last_error = $2
        WHERE target = $1
          AND status IN ('pending', 'failed')`,
      [target, reason],
    );
    return rowCount ?? 0;
  }

  /**
   * Sends an event to a target again: its delivery, created if the event never went there, is due now
   * with a fresh retry schedule. Null when the merchant has no such event.
   */
  async resend(merchantId: string, eventId: string, sink: string, target: string, executor: Executor = this.db): Promise<Delivery | null> {
    const { rows } = await executor.query<DeliveryRow>(
      `INSERT INTO event_deliveries AS d (id, merchant_id, event_id, event_seq, event_type, event_created_at, aggregate_key, sink, target)
       SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), o.merchant_id, o.id, o.seq, o.type, o.created_at,
              o.aggregate_type || ':' || o.aggregate_id, $3, $4
         FROM outbox_events o
        WHERE o.merchant_id = $1
          AND o.id = $2
           ON CONFLICT (target, merchant_id, event_id) DO UPDATE
          SET status = 'pending',
              attempts = 0,
              next_attempt_at = now(),
              delivered_at = NULL
       RETURNING ${DELIVERY_COLUMNS}`,
      [merchantId, eventId, sink, target],
    );
    return rows[0] ? toDelivery(rows[0]) : null;
  }

  /** A target's deliveries, newest event first, each with its attempts; limit + 1 rows. */
  async listForTarget(merchantId: string, target: string, page: PageRequest, executor: Executor = this.db.reports): Promise<Delivery[]> {
    const { rows } = await executor.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS}, ${ATTEMPT_LOG}
         FROM event_deliveries d
        WHERE d.merchant_id = $1
          AND d.target = $2
          AND ($5::text IS NULL OR (d.event_seq, d.id) < (SELECT c.event_seq, c.id FROM event_deliveries c WHERE c.id = $5))
        ORDER BY d.event_seq DESC, d.id DESC
        LIMIT $3 OFFSET $4`,
      [merchantId, target, page.limit + 1, page.offset, page.startingAfter ?? null],
    );
    return rows.map(toDelivery);
  }

  /** Every delivery of these events, in the order of their sinks' creation. */
  async listForEvents(merchantId: string, eventIds: string[], executor: Executor = this.db.reports): Promise<Delivery[]> {
    if (eventIds.length === 0) return [];
    const { rows } = await executor.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS}
         FROM event_deliveries d
        WHERE d.merchant_id = $1
          AND d.event_id = ANY ($2::text[])
        ORDER BY d.created_at, d.id`,
      [merchantId, eventIds],
    );
    return rows.map(toDelivery);
  }

  async countForTarget(merchantId: string, target: string, executor: Executor = this.db.reports): Promise<number> {
    const { rows } = await executor.query<{ n: number }>(
      `SELECT count(*)::int AS n
         FROM event_deliveries d
        WHERE d.merchant_id = $1
          AND d.target = $2`,
      [merchantId, target],
    );
    return rows[0].n;
  }

  /** Undelivered deliveries per sink (pending or waiting for a retry). */
  async backlogBySink(executor: Executor = this.db.reports): Promise<Array<{ sink: string; n: number }>> {
    const { rows } = await executor.query<{ sink: string; n: number }>(
      `SELECT d.sink, count(*)::int AS n
         FROM event_deliveries d
        WHERE d.status IN ('pending', 'failed')
        GROUP BY d.sink`,
    );
    return rows;
  }
}
