import type { FormObject, FormValue } from './emulator-server';

/**
 * The parameters each Stripe endpoint the emulator serves accepts (Stripe's API reference), so that the
 * emulator refuses an unknown one as Stripe does: 400 `parameter_unknown` with `param` naming it
 * (`payment_intent_data[colour]` for a nested one). A code path that sends a misspelt or retired
 * parameter then fails in tests as it would in production, instead of being silently ignored.
 *
 * `true`: any value (free-form hashes such as `metadata`, or hashes whose inner shape the emulator does
 * not model); a nested spec: the hash (or each hash of an array) accepts only those keys.
 */
export type ParamSpec = true | { [name: string]: ParamSpec };
type Spec = { [name: string]: ParamSpec };

const any = (...names: string[]): Spec => Object.fromEntries(names.map((name) => [name, true as ParamSpec]));

const LIST = any('created', 'ending_before', 'limit', 'starting_after', 'expand');
const RETRIEVE = any('expand');

const PAYMENT_INTENT_COMMON = any(
  'amount',
  'amount_details',
  'application_fee_amount',
  'capture_method',
  'currency',
  'customer',
  'description',
  'excluded_payment_method_types',
  'expand',
  'hooks',
  'metadata',
  'payment_details',
  'payment_method',
  'payment_method_configuration',
  'payment_method_data',
  'payment_method_options',
  'payment_method_types',
  'receipt_email',
  'setup_future_usage',
  'shipping',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_data',
  'transfer_group',
);

const CONFIRM = any(
  'capture_method',
  'confirmation_token',
  'error_on_requires_action',
  'excluded_payment_method_types',
  'expand',
  'mandate',
  'mandate_data',
  'off_session',
  'payment_method',
  'payment_method_data',
  'payment_method_options',
  'payment_method_types',
  'radar_options',
  'receipt_email',
  'return_url',
  'setup_future_usage',
  'shipping',
  'use_stripe_sdk',
);

const PRODUCT_DATA: Spec = any('name', 'description', 'images', 'metadata', 'tax_code', 'unit_label');
const PRICE_DATA: Spec = {
  ...any('currency', 'product', 'tax_behavior', 'unit_amount', 'unit_amount_decimal'),
  product_data: PRODUCT_DATA,
  recurring: any('interval', 'interval_count'),
};

export const STRIPE_PARAMS: Record<string, Spec> = {
  'POST /v1/payment_intents': {
    ...PAYMENT_INTENT_COMMON,
    ...CONFIRM,
    ...any('confirm', 'confirmation_method', 'on_behalf_of'),
    // Older API versions' name for the payment method types; the emulator reads both.
    ...any('allowed_payment_method_types'),
    automatic_payment_methods: any('enabled', 'allow_redirects'),
  },
  'GET /v1/payment_intents': { ...LIST, ...any('customer') },
  'GET /v1/payment_intents/:id': { ...RETRIEVE, ...any('client_secret') },
  'POST /v1/payment_intents/:id': PAYMENT_INTENT_COMMON,
  'POST /v1/payment_intents/:id/confirm': CONFIRM,
  'POST /v1/payment_intents/:id/capture': any(
    'amount_to_capture',
    'application_fee_amount',
    'expand',
    'final_capture',
    'metadata',
    'statement_descriptor',
    'statement_descriptor_suffix',
    'transfer_data',
  ),
  'POST /v1/payment_intents/:id/cancel': any('cancellation_reason', 'expand'),
  'GET /v1/payment_methods/:id': RETRIEVE,
  'POST /v1/payment_methods/:id/attach': any('customer', 'expand'),
  'POST /v1/payment_methods/:id/detach': any('expand'),
  'GET /v1/charges': { ...LIST, ...any('customer', 'payment_intent', 'transfer_group') },
  'GET /v1/charges/:id': RETRIEVE,
  'POST /v1/refunds': any(
    'amount',
    'charge',
    'currency',
    'customer',
    'expand',
    'instructions_email',
    'metadata',
    'origin',
    'payment_intent',
    'reason',
    'refund_application_fee',
    'reverse_transfer',
  ),
  'GET /v1/refunds': { ...LIST, ...any('charge', 'payment_intent') },
  'GET /v1/refunds/:id': RETRIEVE,
  'GET /v1/disputes': { ...LIST, ...any('charge', 'payment_intent') },
  'GET /v1/disputes/:id': RETRIEVE,
  'POST /v1/disputes/:id': {
    ...any('expand', 'metadata', 'submit'),
    // Stripe's evidence hash has some thirty fields; the emulator models uncategorized_text only.
    evidence: true,
  },
  'POST /v1/checkout/sessions': {
    ...any(
      'adaptive_pricing',
      'after_expiration',
      'allow_promotion_codes',
      'automatic_tax',
      'billing_address_collection',
      'cancel_url',
      'client_reference_id',
      'consent_collection',
      'currency',
      'custom_fields',
      'custom_text',
      'customer',
      'customer_creation',
      'customer_email',
      'customer_update',
      'discounts',
      'excluded_payment_method_types',
      'expand',
      'expires_at',
      'invoice_creation',
      'locale',
      'metadata',
      'mode',
      'optional_items',
      'payment_method_collection',
      'payment_method_configuration',
      'payment_method_data',
      'payment_method_options',
      'payment_method_types',
      'permissions',
      'phone_number_collection',
      'redirect_on_completion',
      'return_url',
      'saved_payment_method_options',
      'setup_intent_data',
      'shipping_address_collection',
      'shipping_options',
      'submit_type',
      'subscription_data',
      'success_url',
      'tax_id_collection',
      'ui_mode',
    ),
    line_items: { ...any('adjustable_quantity', 'dynamic_tax_rates', 'price', 'quantity', 'tax_rates'), price_data: PRICE_DATA },
    payment_intent_data: any(
      'application_fee_amount',
      'capture_method',
      'description',
      'metadata',
      'on_behalf_of',
      'receipt_email',
      'setup_future_usage',
      'shipping',
      'statement_descriptor',
      'statement_descriptor_suffix',
      'transfer_data',
      'transfer_group',
    ),
  },
  'GET /v1/checkout/sessions': {
    ...LIST,
    ...any('customer', 'customer_details', 'payment_intent', 'payment_link', 'status', 'subscription'),
  },
  'GET /v1/checkout/sessions/:id': RETRIEVE,
  'GET /v1/checkout/sessions/:id/line_items': LIST,
  'POST /v1/checkout/sessions/:id/expire': any('expand'),
  'POST /v1/customers': {
    ...any(
      'address',
      'balance',
      'cash_balance',
      'description',
      'email',
      'expand',
      'invoice_prefix',
      'metadata',
      'name',
      'next_invoice_sequence',
      'payment_method',
      'phone',
      'preferred_locales',
      'shipping',
      'tax',
      'tax_exempt',
      'tax_id_data',
      'test_clock',
    ),
    invoice_settings: any('default_payment_method'),
  },
  'GET /v1/customers/:id': RETRIEVE,
  'GET /v1/customers/:id/payment_methods': { ...LIST, ...any('allow_redisplay', 'type') },
  'POST /v1/products': any(
    'active',
    'default_price_data',
    'description',
    'expand',
    'id',
    'images',
    'marketing_features',
    'metadata',
    'name',
    'package_dimensions',
    'shippable',
    'statement_descriptor',
    'tax_code',
    'unit_label',
    'url',
  ),
  'GET /v1/products/:id': RETRIEVE,
  'POST /v1/prices': {
    ...any(
      'active',
      'billing_scheme',
      'currency',
      'currency_options',
      'custom_unit_amount',
      'expand',
      'lookup_key',
      'metadata',
      'nickname',
      'product',
      'tax_behavior',
      'tiers',
      'tiers_mode',
      'transfer_lookup_key',
      'transform_quantity',
      'unit_amount',
      'unit_amount_decimal',
    ),
    product_data: PRODUCT_DATA,
    recurring: any('interval', 'interval_count', 'meter', 'usage_type'),
  },
  'GET /v1/prices/:id': RETRIEVE,
  'GET /v1/subscriptions/:id': RETRIEVE,
  'DELETE /v1/subscriptions/:id': any('cancellation_details', 'expand', 'invoice_now', 'prorate'),
  'GET /v1/invoices/:id': RETRIEVE,
  // Billing (stripe-emulator-billing.ts): only what the emulator models; trials, coupons, proration and
  // item changes are refused as unknown rather than silently ignored.
  'POST /v1/subscriptions': {
    ...any('cancel_at_period_end', 'collection_method', 'customer', 'default_payment_method', 'description', 'expand', 'metadata'),
    ...any('off_session', 'payment_behavior'),
    items: any('metadata', 'price', 'quantity'),
  },
  'GET /v1/subscriptions': { ...LIST, ...any('customer', 'status') },
  'POST /v1/subscriptions/:id': any('cancel_at_period_end', 'default_payment_method', 'description', 'expand', 'metadata'),
  'GET /v1/invoices': { ...LIST, ...any('customer', 'status', 'subscription') },
  'POST /v1/invoices/:id/pay': any('expand', 'off_session'),
  'POST /v1/test_helpers/test_clocks': any('expand', 'frozen_time', 'name'),
  'GET /v1/test_helpers/test_clocks/:id': RETRIEVE,
  'POST /v1/test_helpers/test_clocks/:id/advance': any('expand', 'frozen_time'),
  'DELETE /v1/test_helpers/test_clocks/:id': {},
  'GET /v1/events': { ...LIST, ...any('delivery_success', 'type', 'types') },
  'GET /v1/events/:id': RETRIEVE,
};

/** The first parameter of `values` the spec does not accept, named as Stripe names it (`a[b][0][c]`), or undefined. */
export function unknownParam(spec: Spec, values: FormObject, prefix = ''): string | undefined {
  for (const [key, value] of Object.entries(values)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    const inner = spec[key];
    if (inner === undefined) return name;
    if (inner === true) continue;
    const unknown = unknownNested(inner, value, name);
    if (unknown) return unknown;
  }
  return undefined;
}

function unknownNested(spec: Spec, value: FormValue, name: string): string | undefined {
  if (typeof value === 'string') return undefined; // a scalar where a hash belongs: the handler's own validation answers
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const unknown = unknownNested(spec, item, `${name}[${i}]`);
      if (unknown) return unknown;
    }
    return undefined;
  }
  return unknownParam(spec, value, name);
}
