import { Chargeback, type MercadoPagoConfig, Payment } from 'mercadopago';
import type { ProviderTransaction, TransactionWindow } from '../payment-provider';
import { belongsTo } from '../provider-listing';
import { fromMajorString } from '../../../common/money';
import {
  type MercadoPagoChargebackPayload,
  type MercadoPagoPaymentPayload,
  refundStatusOf,
  toChargebackDispute,
  toProviderPayment,
} from './mercadopago.mapper';

/** Results per search page. */
export const SEARCH_PAGE_SIZE = 1000;
/**
 * How deep offset paging goes in one search (offset + limit): past it, the search starts again from
 * the last date_created seen, so that a window of any size is listed.
 */
export const SEARCH_MAX_DEPTH = 10_000;

/** A payment as the search answers it, with the refunds it lists. */
export type SearchedPayment = MercadoPagoPaymentPayload & {
  refunds?: Array<{ id?: number | string; amount?: number; status?: string; date_created?: string }>;
};

export interface SearchPage {
  results?: SearchedPayment[];
}

/** One call of the payments search API (`Payment.search` of the SDK). */
export type PaymentSearch = (options: {
  range: 'date_created';
  begin_date: string;
  end_date: string;
  sort: 'date_created';
  criteria: 'asc';
  limit: number;
  offset: number;
}) => Promise<SearchPage>;

/** The chargebacks on one payment (`Chargeback.search` by payment_id: Mercado Pago lists none by date). */
export type ChargebackSearch = (paymentId: string) => Promise<MercadoPagoChargebackPayload[]>;

/** Statuses of a payment with a chargeback on it (in_mediation: a dispute opened; charged_back: a chargeback). */
const DISPUTED = ['in_mediation', 'charged_back'];

/** Both searches through the SDK: `client` the configured SDK client, `read` the provider's error mapping. */
export function sdkSearches(client: () => MercadoPagoConfig, read: <T>(fn: () => Promise<T>) => Promise<T>) {
  const payments: PaymentSearch = (options) => read(() => new Payment(client()).search({ options }) as Promise<SearchPage>);
  const chargebacks: ChargebackSearch = async (paymentId) => {
    const page = await read(() => new Chargeback(client()).search({ options: { payment_id: Number(paymentId), limit: 100 } }));
    return (page.results ?? []) as MercadoPagoChargebackPayload[];
  };
  return { payments, chargebacks };
}

/** The merchant our metadata names (none: a payment made behind Paybridge's back). */
function merchantOf(payment: SearchedPayment): string | null {
  const id = payment.metadata?.merchant_id;
  return typeof id === 'string' && id ? id : null;
}

/** A payment, its refunds and its chargebacks as the provider's records (none when it is another merchant's). */
async function toTransactions(
  payment: SearchedPayment,
  window: TransactionWindow,
  chargebacks: ChargebackSearch,
): Promise<ProviderTransaction[]> {
  const merchantId = merchantOf(payment);
  if (!belongsTo(window, merchantId)) return [];
  const mapped = toProviderPayment(payment);
  const createdAt = new Date(payment.date_created ?? 0);
  const charge: ProviderTransaction = {
    providerRef: mapped.providerRef,
    kind: 'charge',
    status: mapped.status,
    amount: mapped.amount,
    amountRefunded: mapped.amountRefunded,
    currency: mapped.currency,
    reference: payment.external_reference || null,
    merchantId,
    createdAt,
  };
  const refunds = (payment.refunds ?? []).map(
    (refund): ProviderTransaction => ({
      providerRef: String(refund.id),
      kind: 'refund',
      status: refundStatusOf(refund),
      amount: fromMajorString(refund.amount ?? 0, mapped.currency),
      currency: mapped.currency,
      reference: mapped.providerRef,
      merchantId,
      createdAt: refund.date_created ? new Date(refund.date_created) : createdAt,
    }),
  );
  const disputes = DISPUTED.includes(payment.status ?? '')
    ? (await chargebacks(mapped.providerRef)).map((chargeback): ProviderTransaction => {
        const dispute = toChargebackDispute(chargeback, payment);
        return {
          providerRef: dispute.providerDisputeId,
          kind: 'dispute',
          status: dispute.status,
          amount: dispute.amount,
          currency: dispute.currency,
          reference: mapped.providerRef,
          merchantId,
          createdAt: chargeback.date_created ? new Date(chargeback.date_created) : createdAt,
        };
      })
    : [];
  return [charge, ...refunds, ...disputes];
}

/**
 * What Mercado Pago holds for a window: the payments search by date_created (`begin_date` inclusive,
 * `end_date`: the last millisecond before the window's end), oldest first, paged with offset and
 * limit; each payment with the refunds it carries, and a disputed one (in_mediation, charged_back) with its
 * chargebacks (searched by payment). Offset paging stops at SEARCH_MAX_DEPTH: the search
 * then begins again at the last date_created seen, skipping the payments already listed at that instant.
 */
export async function* listMercadoPagoTransactions(
  search: PaymentSearch,
  chargebacks: ChargebackSearch,
  window: TransactionWindow,
  paging = { pageSize: SEARCH_PAGE_SIZE, maxDepth: SEARCH_MAX_DEPTH },
): AsyncIterable<ProviderTransaction[]> {
  const { pageSize, maxDepth } = paging;
  const end = new Date(window.to.getTime() - 1).toISOString();
  let begin = window.from.toISOString();
  let offset = 0;
  /** Payments listed at the latest date_created seen: a restarted search lists them again. */
  let atLast = new Set<string>();
  let last = '';
  for (;;) {
    const page = await search({
      range: 'date_created',
      begin_date: begin,
      end_date: end,
      sort: 'date_created',
      criteria: 'asc',
      limit: pageSize,
      offset,
    });
    const results = page.results ?? [];
    const fresh = results.filter((p) => !(p.date_created === last && atLast.has(String(p.id))));
    for (const p of fresh) {
      if (p.date_created !== last) {
        last = p.date_created ?? '';
        atLast = new Set();
      }
      atLast.add(String(p.id));
    }
    const transactions: ProviderTransaction[] = [];
    for (const p of fresh) transactions.push(...(await toTransactions(p, window, chargebacks)));
    if (transactions.length > 0) yield transactions;
    if (results.length < pageSize) return;
    offset += pageSize;
    if (offset + pageSize > maxDepth) {
      const next = new Date(last).toISOString();
      if (next === begin) throw new Error('Mercado Pago shows more payments at one instant than its search can page');
      begin = next;
      offset = 0;
    }
  }
}
