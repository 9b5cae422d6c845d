export type LedgerDirection = 'debit' | 'credit';

/**
 * Accounts. `receivable:<provider>` (asset) is what a provider holds for us; `sales` (income) is gross
 * sales; `refunds` (contra-income) what was given back; `gift_card_liability` what gift cards still owe;
 * `gift_card_breakage` (income) balances of expired cards.
 */
export const ACCOUNTS = {
  receivable: (provider: string) => `receivable:${provider}`,
  sales: 'sales',
  refunds: 'refunds',
  /** Coupon discounts (contra-revenue): sales are booked at list price. */
  discounts: 'discounts',
  /** What gift cards still owe their holders. */
  giftCardLiability: 'gift_card_liability',
  /** Gift-card balance taken for a payment still in flight (back to the card if it fails). */
  giftCardHeld: 'gift_card_held',
  /** Balances forfeited by expired cards. */
  giftCardBreakage: 'gift_card_breakage',
  /**
   * Money a provider reports taking that a payment does not account for (the payment was closed before,
   * or another charge paid it): owed to the customer, or to be matched to an order, until someone
   * resolves it (a refund at the provider).
   */
  suspense: 'suspense',
  /** Money a provider took back for a dispute (chargeback); given back to receivable when it is won. */
  disputes: 'disputes',
  /** Providers' fees on charges (an expense), booked against what the provider holds for us. */
  providerFees: 'provider_fees',
  /** Providers' dispute fees (an expense). */
  disputeFees: 'dispute_fees',
} as const;

export interface LedgerLine {
  account: string;
  direction: LedgerDirection;
  amount: number;
}

export interface Posting {
  merchantId: string;
  postingId: string;
  /** charge, refund, … */
  kind: string;
  currency: string;
  paymentId?: string;
  refundId?: string;
  lines: LedgerLine[];
}

export interface AccountBalance {
  account: string;
  debits: number;
  credits: number;
  /** debits - credits */
  balance: number;
}

export interface LedgerBalance {
  currency: string;
  accounts: AccountBalance[];
  totalDebits: number;
  totalCredits: number;
  balanced: boolean;
  /**
   * What providers took for charges (`gross`: debits to `receivable:<provider>` of charge postings),
   * their fees on them (`fees`: the `provider_fees` balance), and `net` = gross - fees.
   */
  settlement: { gross: number; fees: number; net: number };
}
