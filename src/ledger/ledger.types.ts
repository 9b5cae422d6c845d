export type LedgerDirection = 'debit' | 'credit';

/**
 * Accounts. `receivable:<provider>` (asset) is what a provider holds for us; `sales` (income) is gross
 * sales; `refunds` (contra-income) what was given back. Later issues add discounts, gift-card liability
 * and chargebacks.
 */
export const ACCOUNTS = {
  receivable: (provider: string) => `receivable:${provider}`,
  sales: 'sales',
  refunds: 'refunds',
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
}
