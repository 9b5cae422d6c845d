import type Stripe from 'stripe';
import { mapStatus, type ProviderSettlement } from '../payment-provider';
import { fromStripeAmount } from './stripe-amounts';

/** Every status of a Stripe balance transaction (exhaustive: an unknown one throws UnknownProviderStatusError). */
const BALANCE_STATUSES: Readonly<Record<string, ProviderSettlement['status']>> = {
  pending: 'pending',
  available: 'available',
};

/**
 * A succeeded PaymentIntent's settlement, from its charge's balance transaction (the intent retrieved
 * with `latest_charge.balance_transaction` expanded): Stripe's fee and the day its net is available.
 * Null while Stripe shows none (not captured yet), or when the balance is kept in another currency than
 * the charge's (the fee is then not in the payment's currency: not recorded).
 */
export function toProviderSettlement(pi: Stripe.PaymentIntent): ProviderSettlement | null {
  const charge = pi.latest_charge && typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
  const txn = charge?.balance_transaction && typeof charge.balance_transaction === 'object' ? charge.balance_transaction : null;
  if (pi.status !== 'succeeded' || !txn || txn.currency !== pi.currency) return null;
  return {
    status: mapStatus('stripe', 'balance transaction', BALANCE_STATUSES, txn.status),
    fee: fromStripeAmount(txn.fee, pi.currency.toUpperCase()),
    availableOn: new Date(txn.available_on * 1000),
  };
}
