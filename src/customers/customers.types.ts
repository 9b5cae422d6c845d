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
