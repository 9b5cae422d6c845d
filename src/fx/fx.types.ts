export interface FxRateRow {
  merchant_id: string;
  base_currency: string;
  quote_currency: string;
  /** numeric, read as its exact decimal text (never parsed into a float). */
  rate: string;
  source: string;
  as_of: Date;
  created_at: Date;
  updated_at: Date;
}

/** A stored rate: `rate` units of `quote` per one unit of `base` (major units), an exact decimal string. */
export interface FxRate {
  pair: string;
  base: string;
  quote: string;
  rate: string;
  source: string;
  asOf: Date;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The rate a payment (or, with subscriptions, an invoice) was priced with, as it was then: stored in the
 * `fx` jsonb column of the record it priced and shown as `fx` in its read shape. Null: nothing converted.
 */
export interface FxSnapshot {
  pair: string;
  rate: string;
  source: string;
  asOf: string;
}

/** A line's price before conversion: its product's price in the rate's base currency. */
export interface ConvertedFrom {
  currency: string;
  unitAmount: number;
}

export function toFxRate(row: FxRateRow): FxRate {
  return {
    pair: `${row.base_currency}-${row.quote_currency}`,
    base: row.base_currency,
    quote: row.quote_currency,
    rate: row.rate,
    source: row.source,
    asOf: row.as_of,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toSnapshot(rate: FxRate): FxSnapshot {
  return { pair: rate.pair, rate: rate.rate, source: rate.source, asOf: rate.asOf.toISOString() };
}
