import { Injectable } from '@nestjs/common';
import type { Transaction } from '../database/database.types';
import type { Payment } from './payments.types';
import type { DiscountedCart } from './pricing.service';
import type { ProviderId } from './providers/payment-provider';

/** A purchase as phase 1 of a direct charge records it. */
export interface RecordedPurchase {
  merchantId: string;
  paymentId: string;
  customerId: string;
  provider: ProviderId;
  /** The saved method the purchase is paid with (`pm_…`), when it saved or used one. */
  paymentMethodId: string | null;
  cart: DiscountedCart;
  currency: string;
}

export interface PurchaseHook {
  /** Before anything is saved, written or charged: throws a DomainError (4xx) for a cart it cannot serve. */
  check(merchantId: string, cart: DiscountedCart, provider: ProviderId | null): void;
  /** In phase 1's transaction, with the payment: what the purchase creates beside it (handed over with tx.later). */
  recorded(tx: Transaction, purchase: RecordedPurchase): void;
  /**
   * A hosted checkout's purchase is being paid, before the payment's success is recorded (same
   * transaction): `paymentId` (the session's payment, perhaps a new one after a declined attempt) and the
   * method its page saved now carry what was recorded with the session's first payment.
   */
  sessionPaying?(tx: Transaction, paying: SessionPaying): Promise<void>;
}

export interface SessionPaying {
  merchantId: string;
  checkoutSessionId: string;
  paymentId: string;
  paymentMethodId: string | null;
}

/** Runs inside the transaction that moves a payment to succeeded or failed, after the move. */
export type OutcomeHook = (tx: Transaction, payment: Payment, outcome: 'succeeded' | 'failed') => Promise<void>;

/**
 * What domains above payments attach to a purchase and to a payment's outcome (subscriptions), without
 * payments knowing them: arrows keep pointing down.
 */
@Injectable()
export class PaymentHooks {
  private readonly purchase: PurchaseHook[] = [];
  private readonly outcome: OutcomeHook[] = [];

  onPurchase(hook: PurchaseHook): void {
    this.purchase.push(hook);
  }

  onOutcome(hook: OutcomeHook): void {
    this.outcome.push(hook);
  }

  check(merchantId: string, cart: DiscountedCart, provider: ProviderId | null): void {
    for (const hook of this.purchase) hook.check(merchantId, cart, provider);
  }

  recorded(tx: Transaction, purchase: RecordedPurchase): void {
    for (const hook of this.purchase) hook.recorded(tx, purchase);
  }

  async sessionPaying(tx: Transaction, paying: SessionPaying): Promise<void> {
    for (const hook of this.purchase) await hook.sessionPaying?.(tx, paying);
  }

  async outcomeReached(tx: Transaction, payment: Payment, outcome: 'succeeded' | 'failed'): Promise<void> {
    for (const hook of this.outcome) await hook(tx, payment, outcome);
  }
}
