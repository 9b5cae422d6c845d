import type Stripe from 'stripe';
import type { ProviderTransaction, TransactionWindow } from '../payment-provider';
import { belongsTo } from '../provider-listing';
import { fromStripeAmount, idOf } from './stripe-amounts';
import { toProviderDispute } from './stripe-dispute.mapper';
import { METADATA, refundStatusOf, toProviderPayment } from './stripe.mapper';

/** Stripe's largest list page: the SDK's auto-pagination fetches the next one as the last is consumed. */
const PAGE_SIZE = 100;

/** Items of an auto-paginating list, in pages of PAGE_SIZE (memory stays one page). */
async function* pages<T>(items: AsyncIterable<T>, map: (item: T) => ProviderTransaction | null): AsyncIterable<ProviderTransaction[]> {
  let page: ProviderTransaction[] = [];
  for await (const item of items) {
    const mapped = map(item);
    if (mapped) page.push(mapped);
    if (page.length === PAGE_SIZE) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

const metadataOf = (object: Stripe.PaymentIntent | string | null | undefined) =>
  object && typeof object === 'object' ? (object.metadata ?? {}) : {};

/**
 * What Stripe holds for a window (`created[gte]`, `created[lt]`, whole seconds): its PaymentIntents
 * (the charge each made, with what it shows refunded), its refunds and its disputes, each through the
 * SDK's auto-pagination. Refunds and disputes carry no metadata of their own: their PaymentIntent is
 * expanded for the merchant and our reference.
 */
export async function* listStripeTransactions(stripe: Stripe, window: TransactionWindow): AsyncIterable<ProviderTransaction[]> {
  const created = { gte: Math.floor(window.from.getTime() / 1000), lt: Math.ceil(window.to.getTime() / 1000) };
  yield* pages(
    stripe.paymentIntents.list({ created, limit: PAGE_SIZE, expand: ['data.latest_charge'] }),
    (pi): ProviderTransaction | null => {
      const merchantId = pi.metadata?.[METADATA.merchantId] || null;
      if (!belongsTo(window, merchantId)) return null;
      const payment = toProviderPayment(pi);
      return {
        providerRef: pi.id,
        kind: 'charge',
        status: payment.status,
        amount: payment.amount,
        amountRefunded: payment.amountRefunded,
        currency: payment.currency,
        reference: pi.metadata?.[METADATA.reference] || null,
        merchantId,
        createdAt: new Date(pi.created * 1000),
      };
    },
  );
  yield* pages(
    stripe.refunds.list({ created, limit: PAGE_SIZE, expand: ['data.payment_intent'] }),
    (refund): ProviderTransaction | null => {
      const merchantId = metadataOf(refund.payment_intent)[METADATA.merchantId] || null;
      if (!belongsTo(window, merchantId)) return null;
      const currency = refund.currency.toUpperCase();
      return {
        providerRef: refund.id,
        kind: 'refund',
        status: refundStatusOf(refund),
        amount: fromStripeAmount(refund.amount, currency),
        currency,
        reference: idOf(refund.payment_intent) ?? idOf(refund.charge) ?? null,
        merchantId,
        createdAt: new Date(refund.created * 1000),
      };
    },
  );
  yield* pages(
    stripe.disputes.list({ created, limit: PAGE_SIZE, expand: ['data.payment_intent'] }),
    (dispute): ProviderTransaction | null => {
      const merchantId = metadataOf(dispute.payment_intent)[METADATA.merchantId] || null;
      const mapped = toProviderDispute(dispute);
      if (!mapped || !belongsTo(window, merchantId)) return null;
      return {
        providerRef: dispute.id,
        kind: 'dispute',
        status: mapped.status,
        amount: mapped.amount,
        currency: mapped.currency,
        reference: mapped.chargeRef,
        merchantId,
        createdAt: new Date(dispute.created * 1000),
      };
    },
  );
}
