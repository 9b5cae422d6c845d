import { Injectable } from '@nestjs/common';
import type { Executor } from '../database/database.types';
import { DatabaseService } from '../database/database.service';
import { LedgerRepository } from './ledger.repository';
import type { LedgerBalance, Posting } from './ledger.types';

export class UnbalancedPostingError extends Error {}

/** Why a posting cannot be written (lines of positive integer amounts, debits equal to credits), if it cannot. */
function imbalanceOf(posting: Posting): UnbalancedPostingError | null {
  let debits = 0;
  let credits = 0;
  for (const line of posting.lines) {
    if (!Number.isSafeInteger(line.amount) || line.amount <= 0)
      return new UnbalancedPostingError(`Ledger line amount must be a positive integer, got ${line.amount}`);
    if (line.direction === 'debit') debits += line.amount;
    else credits += line.amount;
  }
  if (debits !== credits || posting.lines.length < 2) {
    return new UnbalancedPostingError(`Posting ${posting.postingId} does not balance: debits ${debits}, credits ${credits}`);
  }
  return null;
}

/** Double-entry bookkeeping: every posting balances, entries are never changed (a trigger refuses it). */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly db: DatabaseService,
  ) {}

  /** Writes a posting inside the caller's transaction, the one that moves the money. */
  post(posting: Posting, tx: Executor): Promise<unknown> {
    const unbalanced = imbalanceOf(posting);
    if (unbalanced) return Promise.reject(unbalanced);
    // The statement's own promise: a transaction may send COMMIT right behind it.
    return this.ledger.insert(posting, tx);
  }

  /**
   * A payment's posting written at most once (a repeated provider event books nothing more): true when
   * written. The caller holds the payment's row lock (PaymentsRepository.findByIdForUpdate).
   */
  async postOnce(posting: Posting & { paymentId: string }, tx: Executor): Promise<boolean> {
    const unbalanced = imbalanceOf(posting);
    if (unbalanced) throw unbalanced;
    return this.ledger.insertOnce(posting, tx);
  }

  /** A two-line posting: `amount` from one account (debited) to another (credited). */
  transfer(
    tx: Executor,
    posting: { merchantId: string; postingId: string; kind: string; currency: string; amount: number; debit: string; credit: string },
  ): Promise<unknown> {
    const { debit, credit, amount, ...rest } = posting;
    return this.post(
      {
        ...rest,
        lines: [
          { account: debit, direction: 'debit', amount },
          { account: credit, direction: 'credit', amount },
        ],
      },
      tx,
    );
  }

  /** Per-account totals for one currency; a report, on the report pool. */
  /** What a payment's suspense postings hold and released (PaymentOutcomes); the ledger is read and written only here. */
  suspenseOf(merchantId: string, paymentId: string | null, heldPosting: string, releasedPrefix: string, executor: Executor) {
    return this.ledger.suspenseOf(merchantId, paymentId, heldPosting, releasedPrefix, executor);
  }

  lockStraySuspense(merchantId: string, heldPosting: string, tx: Executor): Promise<void> {
    return this.ledger.lockStraySuspense(merchantId, heldPosting, tx);
  }

  async balance(merchantId: string, currency: string): Promise<LedgerBalance> {
    const [accounts, { gross, fees }] = await Promise.all([
      this.ledger.balances(merchantId, currency, this.db.reports),
      this.ledger.settlementTotals(merchantId, currency, this.db.reports),
    ]);
    const totalDebits = accounts.reduce((sum, a) => sum + a.debits, 0);
    const totalCredits = accounts.reduce((sum, a) => sum + a.credits, 0);
    const settlement = { gross, fees, net: gross - fees };
    return { currency, accounts, totalDebits, totalCredits, balanced: totalDebits === totalCredits, settlement };
  }
}
