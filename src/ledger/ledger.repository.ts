import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { ACCOUNTS, type AccountBalance, type Posting } from './ledger.types';

/** A posting's lines, one row each, from the values of postingValues(). */
const INSERT_POSTING = `INSERT INTO ledger_entries (merchant_id, posting_id, kind, account, direction, amount, currency, payment_id, refund_id)
       SELECT $1, $2, $3, line.account, line.direction, line.amount, $4, $5, $6
         FROM unnest($7::text[], $8::text[], $9::bigint[]) AS line (account, direction, amount)`;

function postingValues(posting: Posting): unknown[] {
  return [
    posting.merchantId,
    posting.postingId,
    posting.kind,
    posting.currency,
    posting.paymentId ?? null,
    posting.refundId ?? null,
    posting.lines.map((l) => l.account),
    posting.lines.map((l) => l.direction),
    posting.lines.map((l) => l.amount),
  ];
}

@Injectable()
export class LedgerRepository {
  constructor(private readonly db: DatabaseService) {}

  /** All lines of a posting in one statement. */
  insert(posting: Posting, executor: Executor): Promise<unknown> {
    return executor.query(INSERT_POSTING, postingValues(posting));
  }

  /**
   * A payment's posting, unless that payment already has a posting with this id: true when written. The
   * caller holds the payment's row lock, so that a concurrent duplicate waits and then sees this one.
   */
  async insertOnce(posting: Posting & { paymentId: string }, executor: Executor): Promise<boolean> {
    const { rowCount } = await executor.query(
      `${INSERT_POSTING}
        WHERE NOT EXISTS (SELECT 1 FROM ledger_entries WHERE merchant_id = $1 AND payment_id = $5 AND posting_id = $2)`,
      postingValues(posting),
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * A payment's suspense for one charge: what its posting `heldPosting` credited to suspense, and what
   * postings whose id starts with `releasedPrefix` debited back out of it.
   */
  async suspenseOf(
    merchantId: string,
    paymentId: string | null,
    heldPosting: string,
    releasedPrefix: string,
    executor: Executor,
  ): Promise<{ held: number; released: number; currency: string | null }> {
    // A charge no payment names (paymentId null) is found by its posting ids (ledger_entries_suspense_idx).
    const { rows } = await executor.query<{ held: number; released: number; currency: string | null }>(
      `SELECT coalesce(sum(amount) FILTER (WHERE posting_id = $3 AND direction = 'credit'), 0)::bigint AS held,
              coalesce(sum(amount) FILTER (WHERE left(posting_id, length($4)) = $4 AND direction = 'debit'), 0)::bigint AS released,
              max(currency) FILTER (WHERE posting_id = $3) AS currency
         FROM ledger_entries
        WHERE merchant_id = $1 AND account = $5
          AND ${paymentId === null ? `payment_id IS NULL AND $2::text IS NULL AND (posting_id = $3 OR left(posting_id, length($4)) = $4)` : `payment_id = $2`}`,
      [merchantId, paymentId, heldPosting, releasedPrefix, ACCOUNTS.suspense],
    );
    return rows[0];
  }

  /** Locks the suspense line of a charge no payment names (FOR UPDATE: it is never updated) until the transaction ends. */
  async lockStraySuspense(merchantId: string, heldPosting: string, tx: Executor): Promise<void> {
    await tx.query(
      `SELECT id FROM ledger_entries WHERE merchant_id = $1 AND posting_id = $2 AND account = $3 AND payment_id IS NULL FOR UPDATE`,
      [merchantId, heldPosting, ACCOUNTS.suspense],
    );
  }

  /** Charges' gross taken by providers and the providers' fees, for one currency (LedgerBalance.settlement). */
  async settlementTotals(merchantId: string, currency: string, executor: Executor = this.db): Promise<{ gross: number; fees: number }> {
    const { rows } = await executor.query<{ gross: number; fees: number }>(
      `SELECT coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND direction = 'debit' AND account LIKE 'receivable:%'), 0)::bigint AS gross,
              (coalesce(sum(amount) FILTER (WHERE account = $3 AND direction = 'debit'), 0)
               - coalesce(sum(amount) FILTER (WHERE account = $3 AND direction = 'credit'), 0))::bigint AS fees
         FROM ledger_entries
        WHERE merchant_id = $1 AND currency = $2`,
      [merchantId, currency, ACCOUNTS.providerFees],
    );
    return rows[0];
  }

  async balances(merchantId: string, currency: string, executor: Executor = this.db): Promise<AccountBalance[]> {
    const { rows } = await executor.query<AccountBalance>(
      `SELECT account,
              coalesce(sum(amount) FILTER (WHERE direction = 'debit'), 0)::bigint AS debits,
              coalesce(sum(amount) FILTER (WHERE direction = 'credit'), 0)::bigint AS credits,
              (coalesce(sum(amount) FILTER (WHERE direction = 'debit'), 0)
               - coalesce(sum(amount) FILTER (WHERE direction = 'credit'), 0))::bigint AS balance
         FROM ledger_entries
        WHERE merchant_id = $1
          AND currency = $2
        GROUP BY account
        ORDER BY account`,
      [merchantId, currency],
    );
    return rows;
  }
}
