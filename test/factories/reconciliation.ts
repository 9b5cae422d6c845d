import type { ProviderId } from '../../src/payments/providers/payment-provider';
import { eventually } from './payments';
import type { TestApp } from './test-app';

export interface ReconciliationRunView {
  id: string;
  status: string;
  provider: string;
  error: string | null;
  counts: { checked: number; matched: number; discrepancies: number; healed: number };
}

export interface DiscrepancyView {
  id: string;
  kind: string;
  status: string;
  providerRef: string;
  paymentId: string | null;
  expected: Record<string, unknown>;
  actual: Record<string, unknown>;
  note: string | null;
}

/** The database's clock now: windows are compared with the rows' created_at. */
export async function dbNow(api: TestApp): Promise<Date> {
  return (await api.db.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows[0].now;
}

/** Starts a run of `provider` over the window through the API and waits until it has finished (it goes on in the background). */
export async function reconcile(
  api: TestApp,
  admin: string,
  provider: ProviderId,
  from: Date,
  to: Date,
  idempotencyKey?: string,
): Promise<ReconciliationRunView> {
  // With an Idempotency-Key the request runs in a transaction of its own, which the run must not join.
  const post = api.http().post('/admin/reconciliation/run').set('X-Api-Key', admin);
  const res = await (idempotencyKey ? post.set('Idempotency-Key', idempotencyKey) : post).send({ provider, from, to });
  if (res.status !== 202) throw new Error(`POST /admin/reconciliation/run answered ${res.status}: ${JSON.stringify(res.body)}`);
  return finished(api, admin, res.body.id as string);
}

/** A run once it is no longer running. */
export function finished(api: TestApp, admin: string, runId: string): Promise<ReconciliationRunView> {
  return eventually(async () => {
    const run = (await api.http().get(`/admin/reconciliation/runs/${runId}`).set('X-Api-Key', admin)).body as ReconciliationRunView;
    return run.status !== 'running' && run;
  });
}

export async function discrepancies(api: TestApp, admin: string, query: string): Promise<DiscrepancyView[]> {
  const res = await api.http().get(`/admin/reconciliation/discrepancies?${query}`).set('X-Api-Key', admin);
  if (res.status !== 200) throw new Error(`GET /admin/reconciliation/discrepancies answered ${res.status}`);
  return res.body.data as DiscrepancyView[];
}

export async function ledgerBalanced(api: TestApp, admin: string, currency: string): Promise<boolean> {
  const res = await api.http().get(`/admin/ledger/balance?currency=${currency}`).set('X-Api-Key', admin);
  return res.body.balanced as boolean;
}

/** The suspense lines booked for the charge a discrepancy found that no payment accounts for. */
export async function strayChargeSuspense(
  api: TestApp,
  discrepancyId: string,
): Promise<Array<{ direction: string; amount: number; currency: string }>> {
  const { rows } = await api.db.query<{ direction: string; amount: number; currency: string }>(
    `SELECT direction, amount::int AS amount, currency FROM ledger_entries
      WHERE kind = 'unmatched_charge' AND posting_id LIKE 'unmatched_charge:' || $1 || ':%' AND account = 'suspense'`,
    [discrepancyId],
  );
  return rows;
}
