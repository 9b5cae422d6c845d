import type { QueryResultRow } from 'pg';

/** Anything that runs a query: the pool, or one client inside a transaction. Repositories take one. */
export interface Executor {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** The executor inside DatabaseService.transaction(). */
export interface Transaction extends Executor {
  /**
   * Hands over a write whose result nobody reads: the caller goes on without waiting for it (it leaves
   * with the statements issued next), and the transaction waits for it before COMMIT, so its failure
   * still rolls everything back.
   */
  later(write: Promise<unknown>): void;
  /** Runs fn once the transaction has committed (never if it rolls back): what others may only see then. */
  afterCommit(fn: () => void): void;
}
