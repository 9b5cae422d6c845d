import { randomId } from './emulator-server';

/** Stripe's balance transaction, as its API answers it (the fields Paybridge and a dashboard read). */
export interface StripeBalanceTransaction {
  id: string;
  object: 'balance_transaction';
  amount: number;
  available_on: number;
  created: number;
  currency: string;
  description: string | null;
  exchange_rate: null;
  fee: number;
  fee_details: Array<{ amount: number; application: null; currency: string; description: string; type: 'stripe_fee' }>;
  net: number;
  reporting_category: 'charge' | 'refund';
  source: string;
  status: 'pending' | 'available';
  type: 'charge' | 'refund';
}

export interface StripeBalanceOptions {
  /** Stripe's processing fee on a charge: basis points of the amount, rounded half up, plus a fixed part (US cards: 290 and 30). */
  feeBasisPoints?: number;
  feeFixed?: number;
  /** Days until a charge's funds are available (Stripe's payout schedule: 2 for US accounts), at 00:00 UTC. */
  availableAfterDays?: number;
}

const DAY = 24 * 60 * 60;

/**
 * The emulator's balance: one balance transaction per captured charge (its fee and net, available on a
 * day to come, `pending` until then, `available` after, as at Stripe) and per refund (no fee, available
 * at once). `makeAvailable` is a test's way to let the days pass.
 */
export class StripeBalance {
  private readonly transactions = new Map<string, StripeBalanceTransaction>();
  private readonly feeBasisPoints: number;
  private readonly feeFixed: number;
  private readonly availableAfterDays: number;

  constructor(options: StripeBalanceOptions = {}) {
    this.feeBasisPoints = options.feeBasisPoints ?? 290;
    this.feeFixed = options.feeFixed ?? 30;
    this.availableAfterDays = options.availableAfterDays ?? 2;
  }

  /** A captured charge's balance transaction: its fee and the day its net becomes available. */
  forCharge(charge: { id: string; amount_captured: number; currency: string; description: string | null }): StripeBalanceTransaction {
    const created = Math.floor(Date.now() / 1000);
    const fee = Math.min(charge.amount_captured, this.feeFixed + Math.floor((charge.amount_captured * this.feeBasisPoints + 5000) / 10000));
    return this.add({
      amount: charge.amount_captured,
      available_on: (Math.floor(created / DAY) + this.availableAfterDays) * DAY,
      created,
      currency: charge.currency,
      description: charge.description,
      fee,
      source: charge.id,
      type: 'charge',
    });
  }

  /** A refund's balance transaction: the amount leaves the balance at once, no fee. */
  forRefund(refund: { id: string; amount: number; currency: string }): StripeBalanceTransaction {
    const created = Math.floor(Date.now() / 1000);
    return this.add({
      amount: -refund.amount,
      available_on: created,
      created,
      currency: refund.currency,
      description: null,
      fee: 0,
      source: refund.id,
      type: 'refund',
    });
  }

  /** As Stripe shows it now: `available` once its day has come. */
  get(id: string): StripeBalanceTransaction | undefined {
    const txn = this.transactions.get(id);
    if (txn && txn.status === 'pending' && txn.available_on <= Math.floor(Date.now() / 1000)) txn.status = 'available';
    return txn;
  }

  /** The days pass for one transaction: its funds are available now. */
  makeAvailable(id: string): StripeBalanceTransaction {
    const txn = this.transactions.get(id);
    if (!txn) throw new Error(`No such balance_transaction: '${id}'`);
    txn.available_on = Math.min(txn.available_on, Math.floor(Date.now() / 1000));
    txn.status = 'available';
    return txn;
  }

  private add(
    fields: Omit<StripeBalanceTransaction, 'id' | 'object' | 'exchange_rate' | 'fee_details' | 'net' | 'reporting_category' | 'status'>,
  ) {
    const txn: StripeBalanceTransaction = {
      id: `txn_${randomId(24)}`,
      object: 'balance_transaction',
      ...fields,
      exchange_rate: null,
      fee_details:
        fields.fee > 0
          ? [
              {
                amount: fields.fee,
                application: null,
                currency: fields.currency,
                description: 'Stripe processing fees',
                type: 'stripe_fee',
              },
            ]
          : [],
      net: fields.amount - fields.fee,
      reporting_category: fields.type,
      status: fields.available_on <= fields.created ? 'available' : 'pending',
    };
    this.transactions.set(txn.id, txn);
    return txn;
  }
}
