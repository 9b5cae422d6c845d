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
