import { randomBytes } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { createProduct, newKey, processBody, processPayment, uniqueEmail } from './payments';
import type { TestApp } from './test-app';

/**
 * A test app's settings for the test clock. The background renewal job waits an hour: an advance then
 * answers for every renewal that became due (a job of the same instance holding some at that moment
 * would have them in its own counts).
 */
export const TEST_CLOCK_ENV = { TEST_CLOCK_ENABLED: 'true', SUBSCRIPTION_RENEWAL_INTERVAL_MS: '3600000' } as const;

/** What the API answers (JSON: dates are strings). */
export interface SubscriptionBody {
  id: string;
  status: string;
  customer: { id: string; email: string };
  currentPeriodStart: string;
  currentPeriodEnd: string;
  [field: string]: unknown;
}

export interface InvoiceBody {
  id: string;
  kind: string;
  status: string;
  amount: number;
  discount: number;
  attempts: number;
  periodStart: string;
  periodEnd: string;
  [field: string]: unknown;
}

/** A merchant of its own (its own test clock), with its secret and admin keys. */
export async function newMerchant(api: TestApp): Promise<{ id: string; sk: string; admin: string }> {
  const id = `mer_${randomBytes(6).toString('hex')}`;
  await api.db.query(`INSERT INTO merchants (id, name) VALUES ($1, $2)`, [id, `Merchant ${id}`]);
  const keys = api.app.get(ApiKeysService);
  return { id, sk: (await keys.create(id, 'secret')).secret, admin: (await keys.create(id, 'admin')).secret };
}

/** A subscription product (USD `amount` per `interval`). */
export function createPlan(api: TestApp, admin: string, amount: number, interval: 'month' | 'year' = 'month') {
  return createProduct(api, admin, { billingType: 'SUBSCRIPTION', interval, prices: [{ currency: 'USD', amount }] });
}

/** Buys the cart through POST /payments/process with a simulator token; answers the response and the customer's subscriptions. */
export async function subscribe(api: TestApp, sk: string, productId: string, token = 'tok_visa', overrides: Record<string, unknown> = {}) {
  const email = uniqueEmail();
  const res = await processPayment(api, sk, processBody(productId, token, { customer: { email, name: 'Sub Scriber' }, ...overrides }));
  const subs = await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', sk);
  return { res, email, subscriptions: subs.body.data as SubscriptionBody[] };
}

/** POST /admin/test-clock/advance. */
export async function advance(api: TestApp, admin: string, days: number, seconds = 0) {
  const res = await api
    .http()
    .post('/admin/test-clock/advance')
    .set('X-Api-Key', admin)
    .set('Idempotency-Key', newKey())
    .send({ days, seconds });
  if (res.status !== 200) throw new Error(`advance failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { now: string; ran: { renewals: number; retries: number; canceled: number; expired: number } };
}

export async function getSubscription(api: TestApp, sk: string, id: string) {
  return (await api.http().get(`/subscriptions/${id}`).set('X-Api-Key', sk)).body;
}

export async function invoicesOf(api: TestApp, sk: string, id: string): Promise<InvoiceBody[]> {
  return (await api.http().get(`/subscriptions/${id}/invoices`).set('X-Api-Key', sk)).body.data;
}

/** The subscription's events, in the order written. */
export async function subscriptionEvents(api: TestApp, id: string): Promise<string[]> {
  const { rows } = await api.db.query<{ type: string }>(
    `SELECT type FROM outbox_events WHERE aggregate_type = 'subscription' AND aggregate_id = $1 ORDER BY seq`,
    [id],
  );
  return rows.map((r) => r.type);
}

/** Saves a simulator token for the customer; answers the method. */
export async function saveMethod(api: TestApp, sk: string, customerId: string, token: string) {
  const res = await api
    .http()
    .post(`/customers/${customerId}/payment-methods`)
    .set('X-Api-Key', sk)
    .set('Idempotency-Key', newKey())
    .send({ provider: 'simulator', token });
  if (res.status !== 201) throw new Error(`save failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string };
}

/** POST /subscriptions/:id/<action>. */
export function subscriptionAction(api: TestApp, sk: string, id: string, action: string, body: object = {}) {
  return api.http().post(`/subscriptions/${id}/${action}`).set('X-Api-Key', sk).set('Idempotency-Key', newKey()).send(body);
}

export { uniqueEmail };
