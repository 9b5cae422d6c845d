/** The Stripe objects the emulator serves, in Stripe's wire format (the fields it models). */

export type Metadata = Record<string, string>;
export type Json = Record<string, unknown>;

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';

export interface StripePaymentIntent {
  id: string;
  object: 'payment_intent';
  allowed_payment_method_types: string[] | null;
  amount: number;
  amount_capturable: number;
  amount_received: number;
  automatic_payment_methods: { enabled: boolean; allow_redirects: string } | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: string;
  client_secret: string;
  confirmation_method: string;
  created: number;
  currency: string;
  customer: string | null;
  customer_account: string | null;
  description: string | null;
  excluded_payment_method_types: string[] | null;
  last_payment_error: Json | null;
  latest_charge: string | null;
  livemode: false;
  metadata: Metadata;
  next_action: Json | null;
  on_behalf_of: string | null;
  payment_method: string | null;
  payment_method_options: Json | null;
  payment_method_types: string[];
  processing: Json | null;
  receipt_email: string | null;
  review: string | null;
  setup_future_usage: string | null;
  shipping: Json | null;
  statement_descriptor: string | null;
  statement_descriptor_suffix: string | null;
  status: PaymentIntentStatus;
  transfer_group: string | null;
}

export interface StripeCharge {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  balance_transaction: string | null;
  captured: boolean;
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  failure_code: string | null;
  failure_message: string | null;
  livemode: false;
  metadata: Metadata;
  outcome: Json;
  paid: boolean;
  payment_intent: string | null;
  payment_method: string;
  payment_method_details: Json;
  refunded: boolean;
  status: 'succeeded' | 'pending' | 'failed';
}

export interface StripeRefund {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string;
  charge: string;
  created: number;
  currency: string;
  customer: string | null;
  destination_details: Json;
  metadata: Metadata;
  payment_intent: string | null;
  payment_method: string;
  reason: string | null;
  receipt_number: string | null;
  source_transfer_reversal: string | null;
  /** `pending` only when a test held it (holdNextRefunds), until settleRefund(). */
  status: 'pending' | 'succeeded' | 'failed';
  failure_reason?: string;
  transfer_reversal: string | null;
}

export interface StripeCheckoutSession {
  id: string;
  object: 'checkout.session';
  amount_subtotal: number;
  amount_total: number;
  cancel_url: string | null;
  client_reference_id: string | null;
  created: number;
  currency: string;
  customer: string | null;
  customer_details: Json | null;
  customer_email: string | null;
  expires_at: number;
  invoice: string | null;
  livemode: false;
  metadata: Metadata;
  mode: 'payment' | 'subscription';
  payment_intent: string | null;
  payment_method_types: string[];
  payment_status: 'paid' | 'unpaid' | 'no_payment_required';
  status: 'open' | 'complete' | 'expired';
  subscription: string | null;
  success_url: string | null;
  total_details: Json;
  ui_mode: 'hosted';
  url: string | null;
}

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: unknown; previous_attributes?: Json };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface StripePrice {
  id: string;
  object: 'price';
  active: boolean;
  created: number;
  currency: string;
  livemode: false;
  lookup_key: string | null;
  metadata: Metadata;
  nickname: string | null;
  product: string;
  recurring: { interval: string; interval_count: number } | null;
  type: 'one_time' | 'recurring';
  unit_amount: number;
}

export interface LineItem {
  id: string;
  object: 'item';
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  description: string;
  price: StripePrice;
  quantity: number;
}
