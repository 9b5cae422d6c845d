import type { ProviderTransaction, TransactionWindow } from '../payment-provider';
import { toProviderTransaction } from './simulator.mapper';
import type { SimulatorDisputesRepository } from './simulator-disputes.repository';
import type { SimulatorRepository } from './simulator.repository';

/** Rows per page of the simulator's listing (reconciliation): memory stays one page whatever the window. */
const LIST_PAGE_SIZE = 5000;

type Position = { createdAt: Date; id: string } | null;

/** Pages ordered by (createdAt, id), each fetched after the last row of the one before (keyset paging). */
async function* keysetPages<R extends { createdAt: Date; id: string }>(
  fetch: (after: Position) => Promise<R[]>,
  map: (row: R) => ProviderTransaction,
): AsyncIterable<ProviderTransaction[]> {
  let after: Position = null;
  for (;;) {
    const page = await fetch(after);
    if (page.length > 0) yield page.map(map);
    if (page.length < LIST_PAGE_SIZE) return;
    after = { createdAt: page[page.length - 1].createdAt, id: page[page.length - 1].id };
  }
}

/** What the simulator holds for one merchant over a window: its charges, then its disputes. */
export async function* listSimulatorTransactions(
  charges: SimulatorRepository,
  disputes: SimulatorDisputesRepository,
  window: TransactionWindow,
): AsyncIterable<ProviderTransaction[]> {
  if (!window.merchantId) throw new Error('The simulator lists one merchant at a time');
  const query = { merchantId: window.merchantId, from: window.from, to: window.to };
  yield* keysetPages((after) => charges.listCharges(query, after, LIST_PAGE_SIZE), toProviderTransaction);
  yield* keysetPages(
    (after) => disputes.list(query, after, LIST_PAGE_SIZE),
    (d): ProviderTransaction => ({
      providerRef: d.id,
      kind: 'dispute',
      status: d.status,
      amount: Number(d.amount),
      currency: d.currency,
      reference: d.chargeId,
      merchantId: d.merchantId,
      createdAt: d.createdAt,
    }),
  );
}
