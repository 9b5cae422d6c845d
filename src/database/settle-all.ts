/** PostgreSQL's answer to a statement sent after an earlier one failed in the same transaction. */
const TRANSACTION_ABORTED = '25P02';

/**
 * Promise.all for the statements of one transaction: waits for every one of them before it throws, so
 * that no chain of statements is still running (and sending) when the transaction rolls back, and throws
 * the failure that caused the others (a statement after a failed one only reports "transaction aborted").
 */
export async function settleAll(promises: Iterable<unknown>): Promise<void> {
  const failures = (await Promise.allSettled(promises)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length === 0) return;
  const cause = failures.find((f) => (f.reason as { code?: string } | null)?.code !== TRANSACTION_ABORTED) ?? failures[0];
  throw cause.reason;
}
