import type Stripe from 'stripe';
import {
  ChargeInput,
  ProviderDeclineError,
  ProviderSubscriptionLine,
  ProviderWebhookEvent,
  SavedMethodRef,
  WebhookVerificationError,
} from '../payment-provider';
import { fromStripeAmount, idOf, toStripeAmount } from './stripe-amounts';
import { missingAsNull } from './stripe-errors';
import { declineCodeOf, METADATA } from './stripe.mapper';

/** Runs one SDK call with the adapter's error mapping (StripeProvider.send). */
export type StripeCall = <T>(
  operation: 'money' | 'read',
  idempotencyKey: string | null,
  call: (stripe: Stripe) => Promise<T>,
) => Promise<T>;

type InvoiceWithPayments = Pick<
  Stripe.Invoice,
  'id' | 'status' | 'billing_reason' | 'attempt_count' | 'amount_paid' | 'amount_due' | 'currency'
> & {
  payments?: { data: { payment?: { payment_intent?: string | { id: string } | null } | null }[] } | null;
  parent?: { subscription_details?: { subscription?: string | { id: string } | null } | null } | null;
};

/** The PaymentIntent of an invoice's latest payment attempt (Stripe lists them oldest first). */
function lastIntentOf(invoice: InvoiceWithPayments): string | undefined {
  const payments = invoice.payments?.data ?? [];
  return idOf(payments[payments.length - 1]?.payment?.payment_intent ?? null) ?? undefined;
}

/**
 * Stripe Billing for subscriptions Stripe renews itself (`managedBy: "provider"`): a purchase starts a
 * Stripe Subscription on the saved method (its first invoice charged at once, `error_if_incomplete`:
 * a decline creates nothing), and Stripe's invoice and subscription events are confirmed here from
 * Stripe's records. Our subscription is named by its first payment, the first invoice's PaymentIntent
 * (`firstChargeRef`); a Stripe subscription is found back from it through its customer's invoices.
 */
export class StripeSubscriptions {
  constructor(private readonly send: StripeCall) {}

  /**
   * The subscription's Price (created per purchase from our catalog amount), then the Subscription with
   * our metadata; answers the first invoice's PaymentIntent. Both requests carry keys derived from ours.
   */
  async start(input: ChargeInput & { saved: SavedMethodRef; subscription: ProviderSubscriptionLine }): Promise<Stripe.PaymentIntent> {
    const line = input.subscription;
    if (input.amount !== line.amount)
      // Stripe charges the plan's price: anything that changes the first payment (a gift card) cannot apply.
      throw new ProviderDeclineError('stripe', 'amount_mismatch', undefined, 'Stripe bills a subscription at its price, in full.');
    const currency = input.currency.toLowerCase();
    const price = await this.send('read', `${input.idempotencyKey}:price`, (stripe) =>
      stripe.prices.create(
        {
          currency,
          unit_amount: toStripeAmount(line.amount, input.currency),
          recurring: { interval: line.interval },
          product_data: { name: line.name.slice(0, 250) },
        },
        { idempotencyKey: `${input.idempotencyKey}:price` },
      ),
    );
    const metadata = {
      [METADATA.merchantId]: input.merchantId,
      [METADATA.reference]: input.reference,
      [METADATA.key]: input.idempotencyKey,
    };
    const sub = await this.send('money', input.idempotencyKey, (stripe) =>
      stripe.subscriptions.create(
        {
          customer: input.saved.providerCustomerRef,
          items: [{ price: price.id }],
          default_payment_method: input.saved.providerMethodRef,
          payment_behavior: 'error_if_incomplete',
          metadata,
          expand: ['latest_invoice.payments'],
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    const invoice = sub.latest_invoice as unknown as InvoiceWithPayments | null;
    const intentId = invoice ? lastIntentOf(invoice) : undefined;
    if (!intentId) throw new Error(`Stripe subscription ${sub.id} shows no first payment`);
    return this.send('read', null, (stripe) => stripe.paymentIntents.retrieve(intentId, { expand: ['latest_charge'] }));
  }

  /** Cancels now the Stripe subscription our first payment started; one already canceled stays so. */
  async cancel(firstChargeRef: string): Promise<void> {
    const id = await this.subscriptionOfFirstCharge(firstChargeRef);
    if (!id) throw new Error(`Stripe shows no subscription started by ${firstChargeRef}`);
    await this.send('read', null, async (stripe) => {
      const sub = await stripe.subscriptions.retrieve(id);
      if (sub.status !== 'canceled') await stripe.subscriptions.cancel(id);
    });
  }

  /** Sets `cancel_at_period_end` on the Stripe subscription our first payment started. */
  async setCancelAtPeriodEnd(firstChargeRef: string, cancel: boolean): Promise<void> {
    const id = await this.subscriptionOfFirstCharge(firstChargeRef);
    if (!id) throw new Error(`Stripe shows no subscription started by ${firstChargeRef}`);
    await this.send('read', null, (stripe) => stripe.subscriptions.update(id, { cancel_at_period_end: cancel }));
  }

  /** The saved method (attached to the same Stripe Customer) Stripe renews it with from now on. */
  async setMethod(firstChargeRef: string, method: SavedMethodRef): Promise<void> {
    const id = await this.subscriptionOfFirstCharge(firstChargeRef);
    if (!id) throw new Error(`Stripe shows no subscription started by ${firstChargeRef}`);
    await this.send('read', null, (stripe) => stripe.subscriptions.update(id, { default_payment_method: method.providerMethodRef }));
  }

  /**
   * An invoice event of a renewal (not the first invoice: that one is the purchase's own charge), from
   * the invoice Stripe holds: `invoice.paid` must show it paid, `invoice.payment_failed` still unpaid.
   * The renewal's charge is the invoice's latest PaymentIntent; `chargeKey` makes it once per invoice
   * (paid) or per failed attempt. Null for an invoice that is no renewal (first invoice, none subscription's).
   */
  async confirmInvoice(event: ProviderWebhookEvent, id: string): Promise<ProviderWebhookEvent | null> {
    const invoice = (await this.send('read', null, (stripe) =>
      missingAsNull(stripe.invoices.retrieve(id, { expand: ['payments'] })),
    )) as unknown as InvoiceWithPayments | null;
    if (!invoice) throw new WebhookVerificationError(`Stripe has no invoice ${id}`);
    const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription ?? null);
    if (!subscriptionId || invoice.billing_reason === 'subscription_create') return null;
    const paid = event.type === 'invoice.paid';
    if (paid !== (invoice.status === 'paid'))
      throw new WebhookVerificationError(`Stripe shows invoice ${id} as ${invoice.status ?? 'unknown'}, not ${event.type}`);
    const intentId = lastIntentOf(invoice);
    if (!intentId) throw new WebhookVerificationError(`Stripe's invoice ${id} shows no payment attempt`);
    const owner = await this.ownerOf(subscriptionId);
    const intent = paid ? null : await this.send('read', null, (stripe) => stripe.paymentIntents.retrieve(intentId));
    const currency = invoice.currency.toUpperCase();
    return {
      eventId: event.eventId,
      type: event.type,
      kind: paid ? 'renewal.succeeded' : 'renewal.failed',
      ...owner,
      providerRef: intentId,
      chargeKey: paid ? `${invoice.id}:paid` : `${invoice.id}:attempt:${invoice.attempt_count}`,
      amount: fromStripeAmount(paid ? invoice.amount_paid : invoice.amount_due, currency),
      currency,
      ...(intent ? { declineCode: declineCodeOf(intent.last_payment_error) } : {}),
      payload: event.payload,
    };
  }

  /** `customer.subscription.deleted`, as Stripe shows the subscription: canceled. */
  async confirmDeleted(event: ProviderWebhookEvent, id: string): Promise<ProviderWebhookEvent> {
    const sub = await this.send('read', null, (stripe) => missingAsNull(stripe.subscriptions.retrieve(id)));
    if (!sub || sub.status !== 'canceled')
      throw new WebhookVerificationError(`Stripe shows subscription ${id} as ${sub?.status ?? 'unknown'}`);
    return {
      eventId: event.eventId,
      type: event.type,
      kind: 'subscription.canceled',
      ...(await this.ownerOf(id)),
      providerRef: id,
      payload: event.payload,
    };
  }

  /** The merchant (our metadata) and the first invoice's PaymentIntent: our subscription's first payment. */
  private async ownerOf(subscriptionId: string): Promise<{ merchantId?: string; firstChargeRef?: string }> {
    const sub = await this.send('read', null, (stripe) => missingAsNull(stripe.subscriptions.retrieve(subscriptionId)));
    if (!sub) throw new WebhookVerificationError(`Stripe has no subscription ${subscriptionId}`);
    const invoices = await this.send('read', null, (stripe) =>
      stripe.invoices.list({ subscription: subscriptionId, limit: 100, expand: ['data.payments'] }),
    );
    const first = (invoices.data as unknown as InvoiceWithPayments[]).find((i) => i.billing_reason === 'subscription_create');
    const merchantId = sub.metadata?.[METADATA.merchantId] || undefined;
    const firstChargeRef = first && first.status === 'paid' ? lastIntentOf(first) : undefined;
    return { ...(merchantId ? { merchantId } : {}), ...(firstChargeRef ? { firstChargeRef } : {}) };
  }

  /** The Stripe subscription whose first invoice the PaymentIntent paid (through its customer's invoices). */
  private async subscriptionOfFirstCharge(intentId: string): Promise<string | null> {
    const intent = await this.send('read', null, (stripe) => stripe.paymentIntents.retrieve(intentId));
    const customer = idOf(intent.customer as string | { id: string } | null);
    if (!customer) return null;
    const invoices = await this.send('read', null, (stripe) => stripe.invoices.list({ customer, limit: 100, expand: ['data.payments'] }));
    const first = (invoices.data as unknown as InvoiceWithPayments[]).find(
      (i) => i.billing_reason === 'subscription_create' && lastIntentOf(i) === intentId,
    );
    return first ? (idOf(first.parent?.subscription_details?.subscription ?? null) ?? null) : null;
  }
}
