import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { ProviderId, ProviderTransaction } from '../payments/providers/payment-provider';
import type { Discrepancy, DiscrepancyKind, DiscrepancyStatus, ReconciliationRun } from './reconciliation.types';

interface RunRow {
  id: string;
  merchantId: string;
  status: ReconciliationRun['status'];
  provider: ProviderId;
  from: Date;
  to: Date;
  checked: number;
  matched: number;
  discrepancies: number;
  healed: number;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

const RUN = `id, merchant_id AS "merchantId", status, provider, window_from AS "from", window_to AS "to", checked, matched,
             discrepancies, healed, error, started_at AS "startedAt", finished_at AS "finishedAt"`;
const DISCREPANCY = `id, merchant_id AS "merchantId", run_id AS "runId", kind, provider, provider_ref AS "providerRef",
                     payment_id AS "paymentId", refund_id AS "refundId", expected, actual, status, note,
                     created_at AS "createdAt", updated_at AS "updatedAt"`;

function toRun(row: RunRow): ReconciliationRun {
  const { checked, matched, discrepancies, healed, ...rest } = row;
  return { ...rest, counts: { checked, matched, discrepancies, healed } };
}

export interface DiscrepancyFilter {
  runId?: string;
  kind?: DiscrepancyKind;
  status?: DiscrepancyStatus;
}

/** What one matching pass found: the counts, and the discrepancies not known before (a later run adds none twice). */
export interface MatchResult {
  checked: number;
  matched: number;
  found: Discrepancy[];
}

/** How far around a run's window its payments are hash-joined to the charges (others are looked up one by one). */
const NEARBY = '2 days';
/** The matching statement's own timeout (DATABASE_STATEMENT_TIMEOUT_MS is for requests). */
const MATCH_TIMEOUT = '15min';
/** Memory for the matching's hashes and sort (the statement's transaction only). */
const MATCH_WORK_MEM = '256MB';

/** Statuses of ours in which the charge took money. */
const SETTLED = `('succeeded', 'partially_refunded', 'refunded')`;

@Injectable()
export class ReconciliationRepository {
  constructor(private readonly db: DatabaseService) {}

  async createRun(run: { id: string; merchantId: string; provider: ProviderId; from: Date; to: Date }): Promise<ReconciliationRun> {
    const { rows } = await this.db.query<RunRow>(
      `INSERT INTO reconciliation_runs (merchant_id, id, provider, window_from, window_to, status)
       VALUES ($1, $2, $3, $4, $5, 'running')
       RETURNING ${RUN}`,
      [run.merchantId, run.id, run.provider, run.from, run.to],
    );
    return toRun(rows[0]);
  }

  async merchantIds(): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(`SELECT id FROM merchants ORDER BY id`);
    return rows.map((r) => r.id);
  }

  /**
   * Runs of this merchant and provider still marked running, called while holding their lock: their
   * process died mid-way. They end failed and their staged rows go; how many there were.
   */
  async failInterrupted(merchantId: string, provider: ProviderId): Promise<number> {
    const { rows } = await this.db.query<{ failed: number }>(
      `WITH failed AS (
         UPDATE reconciliation_runs SET status = 'failed', error = 'interrupted', finished_at = now()
          WHERE merchant_id = $1 AND provider = $2 AND status = 'running'
         RETURNING id
       ), cleared AS (
         DELETE FROM reconciliation_staging WHERE run_id IN (SELECT id FROM failed)
       )
       SELECT count(*)::int AS failed FROM failed`,
      [merchantId, provider],
    );
    return rows[0].failed;
  }

  /** A run that already covered this window completely (the nightly job does not run it twice). */
  async hasCompleted(merchantId: string, provider: ProviderId, from: Date, to: Date): Promise<boolean> {
    const { rows } = await this.db.query(
      `SELECT 1 FROM reconciliation_runs
        WHERE merchant_id = $1 AND provider = $2 AND window_from = $3 AND window_to = $4 AND status = 'completed'
        LIMIT 1`,
      [merchantId, provider, from, to],
    );
    return rows.length > 0;
  }

  async finishRun(
    merchantId: string,
    id: string,
    outcome: {
      status: 'completed' | 'failed';
      checked?: number;
      matched?: number;
      discrepancies?: number;
      healed?: number;
      error?: string;
    },
  ): Promise<ReconciliationRun> {
    const { rows } = await this.db.query<RunRow>(
      `UPDATE reconciliation_runs
          SET status = $3, checked = coalesce($4, checked), matched = coalesce($5, matched),
              discrepancies = coalesce($6, discrepancies), healed = coalesce($7, healed), error = $8, finished_at = now()
        WHERE merchant_id = $1 AND id = $2
        RETURNING ${RUN}`,
      [
        merchantId,
        id,
        outcome.status,
        outcome.checked ?? null,
        outcome.matched ?? null,
        outcome.discrepancies ?? null,
        outcome.healed ?? null,
        outcome.error ?? null,
      ],
    );
    return toRun(rows[0]);
  }

  async findRun(merchantId: string, id: string, executor: Executor = this.db): Promise<ReconciliationRun | null> {
    const { rows } = await executor.query<RunRow>(`SELECT ${RUN} FROM reconciliation_runs WHERE merchant_id = $1 AND id = $2`, [
      merchantId,
      id,
    ]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async listRuns(merchantId: string, page: PageRequest, executor: Executor = this.db.reports): Promise<ReconciliationRun[]> {
    const { rows } = await executor.query<RunRow>(
      `SELECT ${RUN} FROM reconciliation_runs
        WHERE merchant_id = $1
          AND ($2::text IS NULL OR (started_at, id) < (SELECT started_at, id FROM reconciliation_runs WHERE merchant_id = $1 AND id = $2))
        ORDER BY started_at DESC, id DESC
        LIMIT $3 OFFSET $4`,
      [merchantId, page.startingAfter ?? null, page.limit + 1, page.offset],
    );
    return rows.map(toRun);
  }

  /** One page of what the provider holds, in one multi-row statement (no index: a record listed twice is removed by match()). */
  async stage(runId: string, page: ProviderTransaction[]): Promise<void> {
    if (page.length === 0) return;
    await this.db.query(
      `INSERT INTO reconciliation_staging (run_id, kind, provider_ref, status, amount, amount_refunded, currency, reference,
                                          merchant_id, created_at)
       SELECT $1, t.kind, t.provider_ref, t.status, t.amount, t.amount_refunded, t.currency, t.reference, t.merchant_id, t.created_at
         FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
              AS t (kind, provider_ref, status, amount, amount_refunded, currency, reference, merchant_id, created_at)`,
      [
        runId,
        page.map((t) => t.kind),
        page.map((t) => t.providerRef),
        page.map((t) => t.status),
        page.map((t) => t.amount),
        page.map((t) => t.amountRefunded ?? null),
        page.map((t) => t.currency),
        page.map((t) => t.reference ?? null),
        page.map((t) => t.merchantId ?? null),
        page.map((t) => t.createdAt.toISOString()),
      ],
    );
  }

  /**
   * Fresh statistics for the staged rows before matching (autovacuum never sees a table filled and
   * emptied within minutes): without them the planner takes a million rows for a handful and probes an
   * index per row instead of one hash join.
   */
  async analyzeStaging(): Promise<void> {
    await this.db.query(`ANALYZE reconciliation_staging`);
  }

  /** The run's staged rows go, and their space with them (where autovacuum is off, dead rows would slow every later run's scans). */
  async clearStaging(runId: string): Promise<void> {
    await this.db.query(`DELETE FROM reconciliation_staging WHERE run_id = $1`, [runId]);
    await this.db.query(`VACUUM reconciliation_staging`);
  }

  /**
   * The matching, in one statement: each staged dispute must be recorded here; each staged charge
   * (a record listed twice counts once) is joined to the payment it belongs to (by its provider ref, an
   * attempt's ref, or the reference the provider echoes: our payment id) and classified; payments of
   * ours that took money in the window and that the provider did not list are missing there. New
   * discrepancies are inserted (one per provider record and kind, ever: a second run adds none twice)
   * and returned.
   *
   * Set-based for windows of a million records: the payments made around the window are hash-joined
   * to the charges in one pass; only a charge not found among them is looked up by index, one way after
   * another; the suspense check and the expected/actual documents are made only for the rows that need
   * them. No JIT (compiling this plan costs seconds and saves nothing), and memory enough for the
   * hashes and the sort of the duplicates' removal.
   */
  async match(run: Pick<ReconciliationRun, 'id' | 'merchantId' | 'provider' | 'from' | 'to'>, tx: Executor): Promise<MatchResult> {
    // One statement over the whole window: longer than a request's statement timeout at a million records.
    await tx.query(`SELECT set_config('jit', 'off', true), set_config('work_mem', $1, true), set_config('statement_timeout', $2, true)`, [
      MATCH_WORK_MEM,
      MATCH_TIMEOUT,
    ]);
    const inSuspense = (alias: string) =>
      `EXISTS (SELECT 1 FROM ledger_entries l
                WHERE l.merchant_id = $2 AND l.payment_id = ${alias}.payment_id
                  AND l.posting_id = 'unmatched_charge:' || ${alias}.payment_id || ':' || $3 || ':' || ${alias}.provider_ref)`;
    const { rows } = await tx.query<MatchResult>(
      `WITH charges AS (
         SELECT DISTINCT ON (s.provider_ref) s.provider_ref, s.status, s.amount, s.amount_refunded, s.currency, s.reference
           FROM reconciliation_staging s
          WHERE s.run_id = $1 AND s.kind = 'charge'
          ORDER BY s.provider_ref
       ), nearby AS (
         -- The payments made around the window: most charges find theirs here, in one hash join.
         SELECT p.id, p.status, p.amount - p.gift_card_amount AS charged, p.amount_refunded AS refunded,
                p.currency AS payment_currency, p.provider_ref AS payment_ref, p.created_at AS payment_created_at
           FROM payments p
          WHERE p.merchant_id = $2 AND p.provider = $3 AND p.provider_ref IS NOT NULL
            AND p.created_at >= $4::timestamptz - interval '${NEARBY}' AND p.created_at < $5::timestamptz + interval '${NEARBY}'
       ), joined AS MATERIALIZED (
         -- One hash join both ways: charges with their payment, and payments no charge was listed for.
         SELECT s.provider_ref, s.status, s.amount, s.amount_refunded, s.currency, s.reference, n.id, n.status AS our_status,
                n.charged, n.refunded, n.payment_currency, n.payment_ref, n.payment_created_at
           FROM charges s
           FULL JOIN nearby n ON n.payment_ref = s.provider_ref
       ), staged AS (
         SELECT n.provider_ref, n.status, n.amount, n.amount_refunded, n.currency, m.id AS payment_id, m.status AS payment_status,
                m.charged, m.refunded, m.payment_currency, m.payment_ref, m.how
           FROM joined n
           LEFT JOIN LATERAL (
             SELECT c.id, c.status, c.charged, c.refunded, c.payment_currency, c.payment_ref, c.how FROM (
               SELECT n.id, n.our_status AS status, n.charged, n.refunded, n.payment_currency, n.payment_ref, 1 AS how WHERE n.id IS NOT NULL
               UNION ALL
               -- Not among them: each way, by index (made long before the window, an attempt's charge, our id).
               SELECT p.id, p.status, p.amount - p.gift_card_amount, p.amount_refunded, p.currency, p.provider_ref, 1
                 FROM payments p WHERE n.id IS NULL AND p.merchant_id = $2 AND p.provider = $3 AND p.provider_ref = n.provider_ref
               UNION ALL
               SELECT p.id, p.status, p.amount - p.gift_card_amount, p.amount_refunded, p.currency, p.provider_ref, 2
                 FROM payment_attempts a JOIN payments p ON p.merchant_id = a.merchant_id AND p.id = a.payment_id
                WHERE n.id IS NULL AND a.merchant_id = $2 AND a.provider = $3 AND a.provider_ref = n.provider_ref
               UNION ALL
               SELECT p.id, p.status, p.amount - p.gift_card_amount, p.amount_refunded, p.currency, p.provider_ref, 3
                 FROM payments p WHERE n.id IS NULL AND p.merchant_id = $2 AND p.id = n.reference
               UNION ALL
               -- The reference a hosted page's charge echoes is our checkout session's id.
               SELECT p.id, p.status, p.amount - p.gift_card_amount, p.amount_refunded, p.currency, p.provider_ref, 3
                 FROM payments p WHERE n.id IS NULL AND p.merchant_id = $2 AND p.checkout_session_id = n.reference
             ) c ORDER BY c.how LIMIT 1
           ) m ON true
          WHERE n.provider_ref IS NOT NULL
       ), classified AS (
         SELECT st.*,
                CASE
                  -- Found only by our id, and that payment was paid by another charge: a second charge.
                  WHEN payment_id IS NOT NULL AND how = 3 AND payment_ref IS NOT NULL AND payment_ref <> provider_ref THEN
                    CASE WHEN status = 'succeeded' AND NOT ${inSuspense('st')} THEN 'missing_locally' END
                  WHEN payment_id IS NULL THEN CASE WHEN status = 'succeeded' THEN 'missing_locally' END
                  WHEN status <> 'succeeded' THEN CASE WHEN payment_status IN ${SETTLED} THEN 'status_mismatch' END
                  WHEN payment_currency <> currency THEN 'currency_mismatch'
                  WHEN charged <> amount THEN 'amount_mismatch'
                  -- A late success on a payment we failed was booked to suspense by its webhook: accounted for.
                  WHEN payment_status IN ('failed', 'canceled') AND ${inSuspense('st')} THEN NULL
                  WHEN payment_status NOT IN ${SETTLED} THEN 'status_mismatch'
                  -- Refunded there as far as it shows (settled refunds), not here: a lost refund webhook.
                  WHEN amount_refunded IS NOT NULL AND amount_refunded <> refunded THEN 'refund_mismatch'
                END AS kind
           FROM staged st
       ), mismatched AS (
         SELECT provider_ref, payment_id, kind,
                CASE WHEN payment_id IS NULL OR (how = 3 AND payment_ref IS NOT NULL AND payment_ref <> provider_ref) THEN '{}'::jsonb
                     ELSE jsonb_build_object('paymentId', payment_id, 'status', payment_status, 'amount', charged,
                                             'amountRefunded', refunded, 'currency', payment_currency)
                END AS expected,
                jsonb_strip_nulls(jsonb_build_object('providerRef', provider_ref, 'status', status, 'amount', amount,
                                                     'amountRefunded', amount_refunded, 'currency', currency)) AS actual
           FROM classified
          WHERE kind IS NOT NULL
       ), unlisted AS (
         -- Settled here within the window, and the provider listed no such charge.
         SELECT j.payment_ref AS provider_ref, j.id AS payment_id, 'missing_at_provider' AS kind,
                jsonb_build_object('paymentId', j.id, 'status', j.our_status, 'amount', j.charged, 'currency', j.payment_currency) AS expected,
                '{}'::jsonb AS actual
           FROM joined j
          WHERE j.provider_ref IS NULL AND j.our_status IN ${SETTLED} AND j.payment_created_at >= $4 AND j.payment_created_at < $5
       ), staged_disputes AS (
         SELECT DISTINCT ON (s.provider_ref) s.provider_ref, s.status, s.amount, s.currency, s.reference AS charge_ref,
                EXISTS (SELECT 1 FROM disputes d WHERE d.provider = $3 AND d.provider_ref = s.provider_ref) AS recorded
           FROM reconciliation_staging s
          WHERE s.run_id = $1 AND s.kind = 'dispute'
          ORDER BY s.provider_ref
       ), unrecorded AS (
         -- A dispute the provider opened whose webhook never came (or was never applied).
         SELECT s.provider_ref, p.id AS payment_id, 'dispute_unrecorded' AS kind, '{}'::jsonb AS expected,
                jsonb_build_object('providerRef', s.provider_ref, 'status', s.status, 'amount', s.amount, 'currency', s.currency,
                                   'chargeRef', s.charge_ref) AS actual
           FROM staged_disputes s
           LEFT JOIN payments p ON p.merchant_id = $2 AND p.provider = $3 AND p.provider_ref = s.charge_ref
          WHERE NOT s.recorded
       ), inserted AS (
         INSERT INTO reconciliation_discrepancies (merchant_id, id, run_id, kind, provider, provider_ref, payment_id, expected, actual)
         -- Ids made here, many per statement: random like newId's, in hex.
         SELECT $2, 'dsc_' || replace(gen_random_uuid()::text, '-', ''), $1, f.kind, $3, f.provider_ref, f.payment_id, f.expected, f.actual
           FROM (SELECT provider_ref, payment_id, kind, expected, actual FROM mismatched
                 UNION ALL
                 SELECT provider_ref, payment_id, kind, expected, actual FROM unlisted
                 UNION ALL
                 SELECT provider_ref, payment_id, kind, expected, actual FROM unrecorded) f
         ON CONFLICT (merchant_id, provider, provider_ref, kind) DO NOTHING
         RETURNING ${DISCREPANCY}
       ), counts AS (
         SELECT count(*)::int AS checked, (count(*) FILTER (WHERE kind IS NULL))::int AS matched FROM classified
       )
       SELECT counts.checked + (SELECT count(*) FROM staged_disputes)::int AS checked,
              counts.matched + (SELECT count(*) FROM staged_disputes WHERE recorded)::int AS matched,
              (SELECT coalesce(json_agg(i ORDER BY i."createdAt", i.id), '[]'::json) FROM inserted i) AS found
         FROM counts`,
      [run.id, run.merchantId, run.provider, run.from, run.to],
    );
    return rows[0];
  }

  async setStatus(
    merchantId: string,
    id: string,
    from: DiscrepancyStatus,
    to: DiscrepancyStatus,
    note: string | null,
    executor: Executor = this.db,
  ): Promise<Discrepancy | null> {
    const { rows } = await executor.query<Discrepancy>(
      `UPDATE reconciliation_discrepancies SET status = $4, note = coalesce($5, note), updated_at = now()
        WHERE merchant_id = $1 AND id = $2 AND status = $3
        RETURNING ${DISCREPANCY}`,
      [merchantId, id, from, to, note],
    );
    return rows[0] ?? null;
  }

  async findDiscrepancy(merchantId: string, id: string, executor: Executor = this.db): Promise<Discrepancy | null> {
    const { rows } = await executor.query<Discrepancy>(
      `SELECT ${DISCREPANCY} FROM reconciliation_discrepancies WHERE merchant_id = $1 AND id = $2`,
      [merchantId, id],
    );
    return rows[0] ?? null;
  }

  async listDiscrepancies(
    merchantId: string,
    filter: DiscrepancyFilter,
    page: PageRequest,
    executor: Executor = this.db.reports,
  ): Promise<Discrepancy[]> {
    const { rows } = await executor.query<Discrepancy>(
      `SELECT ${DISCREPANCY} FROM reconciliation_discrepancies
        WHERE merchant_id = $1 AND ($2::text IS NULL OR run_id = $2) AND ($3::text IS NULL OR kind = $3)
          AND ($4::text IS NULL OR status = $4)
          AND ($5::text IS NULL OR (created_at, id) > (SELECT created_at, id FROM reconciliation_discrepancies WHERE merchant_id = $1 AND id = $5))
        ORDER BY created_at, id
        LIMIT $6 OFFSET $7`,
      [
        merchantId,
        filter.runId ?? null,
        filter.kind ?? null,
        filter.status ?? null,
        page.startingAfter ?? null,
        page.limit + 1,
        page.offset,
      ],
    );
    return rows;
  }
}
