/** Customers are found by email, stored trimmed and lower-case (a coupon's per-customer limit counts by it too). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface CustomerInput {
  email: string;
  name?: string | null;
  country?: string | null;
}

export interface Customer {
  id: string;
  email: string;
  name: string | null;
  country: string | null;
}

/** A customer as GET /customers shows it. */
export interface CustomerView extends Customer {
  createdAt: Date;
}

/** A saved payment method (table payment_methods): the provider's references, never a card number. */
export interface PaymentMethod {
  id: string;
  customerId: string;
  provider: string;
  providerCustomerRef: string;
  providerMethodRef: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  createdAt: Date;
}

/** What the API shows of a saved method. */
export function paymentMethodView(pm: PaymentMethod) {
  return {
    id: pm.id,
    provider: pm.provider,
    brand: pm.brand,
    last4: pm.last4,
    expMonth: pm.expMonth,
    expYear: pm.expYear,
    createdAt: pm.createdAt,
  };
}
