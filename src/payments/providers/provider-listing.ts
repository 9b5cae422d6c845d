import { PLATFORM_MERCHANT_ID } from '../../auth/auth.types';
import type { TransactionWindow } from './payment-provider';

/**
 * Whether a provider's record belongs in a merchant's reconciliation window: the merchant our metadata
 * (or signed custom fields) names; a record without it (made at the provider behind Paybridge's back)
 * is the platform merchant's, so that exactly one merchant's run reports it and books it to suspense.
 */
export function belongsTo(window: TransactionWindow, merchantId: string | null | undefined): boolean {
  return !window.merchantId || (merchantId || PLATFORM_MERCHANT_ID) === window.merchantId;
}
