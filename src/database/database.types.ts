import type { QueryResultRow } from 'pg';

/** Anything that runs a query: the pool, or one client inside a transaction. Repositories take one. */
export interface Executor {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}
