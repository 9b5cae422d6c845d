import type Stripe from 'stripe';
import type { ChargeInput, ProviderSavedMethod, SaveMethodInput, SavedMethodRef } from '../payment-provider';
import { toStripeAmount } from './stripe-amounts';

/** Metadata on the Stripe Customers we create: our customer and merchant. */
export const CUSTOMER_METADATA = { customerId: 'paybridge_customer', merchantId: 'merchant_id' } as const;

/** The Stripe Customer that holds a customer's saved methods (created once, then reused by its id). */
export function customerParams(input: SaveMethodInput): Stripe.CustomerCreateParams {
  return {
    email: input.customer.email,
    ...(input.customer.name ? { name: input.customer.name } : {}),
    metadata: { [CUSTOMER_METADATA.customerId]: input.customer.id, [CUSTOMER_METADATA.merchantId]: input.merchantId },
  };
}

/**
 * A PaymentIntent on a saved method without the customer present (a renewal, a one-click charge):
 * `off_session: true` makes Stripe decline (`authentication_required`) instead of asking for 3-D Secure
 * that nobody could complete, and no `return_url` is needed. `metadata` as on every charge.
 */
export function savedChargeParams(
  input: ChargeInput & { saved: SavedMethodRef },
  metadata: Stripe.MetadataParam,
): Stripe.PaymentIntentCreateParams {
  return {
    amount: toStripeAmount(input.amount, input.currency),
    currency: input.currency.toLowerCase(),
    customer: input.saved.providerCustomerRef,
    payment_method: input.saved.providerMethodRef,
    off_session: true,
    confirm: true,
    ...(input.description ? { description: input.description } : {}),
    metadata,
  };
}

/** What we keep of an attached card PaymentMethod; null for one that is not a card. */
export function toSavedMethod(customerRef: string, pm: Stripe.PaymentMethod): ProviderSavedMethod | null {
  if (!pm.card) return null;
  return {
    providerCustomerRef: customerRef,
    providerMethodRef: pm.id,
    brand: pm.card.brand,
    last4: pm.card.last4,
    expMonth: pm.card.exp_month,
    expYear: pm.card.exp_year,
  };
}
