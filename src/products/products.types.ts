export const BILLING_TYPES = ['ONE_TIME', 'SUBSCRIPTION'] as const;
export type BillingType = (typeof BILLING_TYPES)[number];
export const BILLING_INTERVALS = ['month', 'year'] as const;
export type BillingInterval = (typeof BILLING_INTERVALS)[number];
export const PRODUCT_TYPES = ['STANDARD', 'GIFT_CARD'] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

export interface Price {
  currency: string;
  amount: number;
  stripePriceId?: string | null;
}

export interface ProductRow {
  merchant_id: string;
  id: string;
  name: string;
  description: string | null;
  billing_type: BillingType;
  billing_interval: BillingInterval | null;
  type: ProductType;
  active: boolean;
  archived_at: Date | null;
  stripe_product_id: string | null;
  segpay_package_id: string | null;
  segpay_price_point_id: string | null;
  allow_conversion: boolean;
  metadata: Record<string, string>;
  created_at: Date;
  updated_at: Date;
  prices: Array<{ currency: string; amount: number; stripe_price_id: string | null }>;
}

export interface Product {
  id: string;
  name: string;
  description: string | null;
  prices: Price[];
  billingType: BillingType;
  interval: BillingInterval | null;
  type: ProductType;
  active: boolean;
  archivedAt: Date | null;
  stripeProductId: string | null;
  segpayPackageId: string | null;
  segpayPricePointId: string | null;
  /**
   * The merchant allows selling it in a currency it has no price in, converted from one of its prices
   * through a stored rate (src/fx). Off by default.
   */
  allowConversion: boolean;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** What a product is made of, without its identity and timestamps: written by create and update. */
export type ProductFields = Omit<Product, 'id' | 'archivedAt' | 'createdAt' | 'updatedAt'>;

export function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    prices: row.prices.map((p) => ({ currency: p.currency, amount: p.amount, stripePriceId: p.stripe_price_id })),
    billingType: row.billing_type,
    interval: row.billing_interval,
    type: row.type,
    active: row.active,
    archivedAt: row.archived_at,
    stripeProductId: row.stripe_product_id,
    segpayPackageId: row.segpay_package_id,
    segpayPricePointId: row.segpay_price_point_id,
    allowConversion: row.allow_conversion,
    metadata: row.metadata,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The price of a product in one currency, or undefined. */
export function priceIn(product: Product, currency: string): number | undefined {
  return product.prices.find((p) => p.currency === currency)?.amount;
}
