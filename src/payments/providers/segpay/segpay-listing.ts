import { fromMajorString } from '../../../common/money';
import { ProviderUnavailableError, type ProviderTransaction, type TransactionWindow } from '../payment-provider';
import { belongsTo } from '../provider-listing';
import { creditStatusOf, type SrsTransaction, toProviderPayment } from './segpay.mapper';

/** Rows per page of the SRS transactions report (its largest `Limit`). */
export const REPORT_PAGE_SIZE = 1000;

/** One call of the SRS transactions report (oldest first, after the `StartAfter` transaction), as SRS answers it. */
export type SrsReport = (params: Record<string, string>) => Promise<{ status: number; body: Record<string, unknown> }>;

/** A page of the report, or ProviderUnavailableError when SRS does not answer one. */
async function reportPage(report: SrsReport, params: Record<string, string>) {
  const answer = await report(params);
  if (answer.status !== 200 || !Array.isArray(answer.body.transactions)) {
    const error = typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${answer.status}`;
    throw new ProviderUnavailableError('segpay', `SRS transactions report answered HTTP ${answer.status}: ${error}`);
  }
  return { transactions: answer.body.transactions as SrsTransaction[], hasMore: answer.body.hasMore === true };
}

/** A report row in our terms: a sale is a charge, a credit a refund, a chargeback a dispute (of the sale it reverses). */
function toTransaction(t: SrsTransaction, merchantId: string | null): ProviderTransaction {
  const createdAt = new Date(t.createdAt);
  if (t.type === 'credit' || t.type === 'charge') {
    const reversal =
      t.type === 'credit' ? { kind: 'refund' as const, status: creditStatusOf(t) } : { kind: 'dispute' as const, status: 'lost' };
    const currency = t.currencyCode.toUpperCase();
    const amount = fromMajorString(t.amount, currency);
    return { providerRef: t.tranId, ...reversal, amount, currency, reference: t.relatedTranId, merchantId, createdAt };
  }
  const sale = toProviderPayment(t);
  return {
    providerRef: t.tranId,
    kind: 'charge',
    status: sale.status,
    amount: sale.amount,
    amountRefunded: sale.amountRefunded,
    currency: sale.currency,
    reference: null,
    merchantId,
    createdAt,
  };
}

/**
 * What Segpay holds for a window: its SRS transactions report (StartDate, EndDate: the last millisecond
 * before the window's end), a page at a time after the last transaction seen (`StartAfter`). The merchant
 * and our checkout session of each row come only from its signed custom fields (`owner`); a row without
 * them is the platform merchant's. A sale's reference is our checkout session (the payment it paid).
 */
export async function* listSegpayTransactions(
  report: SrsReport,
  window: TransactionWindow,
  owner: (t: SrsTransaction) => { merchant: string; session: string } | null,
  pageSize = REPORT_PAGE_SIZE,
): AsyncIterable<ProviderTransaction[]> {
  const range = {
    StartDate: window.from.toISOString(),
    EndDate: new Date(window.to.getTime() - 1).toISOString(),
    Limit: String(pageSize),
  };
  let after: string | null = null;
  for (;;) {
    const page = await reportPage(report, { ...range, ...(after ? { StartAfter: after } : {}) });
    const mapped = page.transactions.flatMap((t): ProviderTransaction[] => {
      const claim = owner(t);
      if (!belongsTo(window, claim?.merchant)) return [];
      const transaction = toTransaction(t, claim?.merchant ?? null);
      return [t.type === 'sale' ? { ...transaction, reference: claim?.session ?? null } : transaction];
    });
    if (mapped.length > 0) yield mapped;
    if (!page.hasMore || page.transactions.length === 0) return;
    after = page.transactions[page.transactions.length - 1].tranId;
  }
}
