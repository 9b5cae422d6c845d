import { randomBytes, randomUUID } from 'node:crypto';
import type { TestApp } from './test-app';
import { productBody } from './products';

export const uniqueEmail = () => `buyer-${randomBytes(4).toString('hex')}@example.com`;

/** A product in the catalog (USD 29.99, BRL 149.90), created through the admin API. */
export async function createProduct(api: TestApp, adminKey: string, overrides: Record<string, unknown> = {}): Promise<{ id: string }> {
  const res = await api.http().post('/admin/products').set('X-Api-Key', adminKey).send(productBody(overrides));
  if (res.status !== 201) throw new Error(`product create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export function processBody(productId: string, token: string, overrides: Record<string, unknown> = {}) {
  return {
    items: [{ productId, quantity: 1 }],
    currency: 'USD',
    customer: { email: uniqueEmail(), name: 'Test Buyer', country: 'US' },
    paymentMethod: { provider: 'simulator', token },
    ...overrides,
  };
}

export function checkoutBody(productId: string, overrides: Record<string, unknown> = {}) {
  return {
    items: [{ productId, quantity: 2 }],
    currency: 'USD',
    customer: { email: uniqueEmail(), name: 'Test Buyer' },
    successUrl: 'https://shop.example.com/success',
    cancelUrl: 'https://shop.example.com/cancel',
    ...overrides,
  };
}

export const newKey = () => randomUUID();

/** POST /payments/process, under a fresh Idempotency-Key unless one is given. */
export function processPayment(api: TestApp, key: string, body: object, idempotencyKey: string = newKey()) {
  return api.http().post('/payments/process').set('X-Api-Key', key).set('Idempotency-Key', idempotencyKey).send(body);
}

/** POST /payments/checkout, under a fresh Idempotency-Key unless one is given. */
export function createCheckout(api: TestApp, key: string, body: object, idempotencyKey: string = newKey()) {
  return api.http().post('/payments/checkout').set('X-Api-Key', key).set('Idempotency-Key', idempotencyKey).send(body);
}

/** POST /transactions/:id/refund (admin key), under a fresh Idempotency-Key unless one is given. */
export function refundPayment(api: TestApp, adminKey: string, paymentId: string, body: object = {}, idempotencyKey: string = newKey()) {
  return api.http().post(`/transactions/${paymentId}/refund`).set('X-Api-Key', adminKey).set('Idempotency-Key', idempotencyKey).send(body);
}

/**
 * One pass of a single-runner job (PaymentJobs.recover, expireSessions) now: a pass that finds the job
 * held by another runner (a background tick, another test app on the database) is made again.
 */
export async function runJob(pass: () => Promise<number | undefined>): Promise<number> {
  for (;;) {
    const handled = await pass();
    if (handled !== undefined) return handled;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** GET /transactions/:id: the payment as the API shows it. */
export async function getPayment(api: TestApp, key: string, id: string) {
  return (await api.http().get(`/transactions/${id}`).set('X-Api-Key', key)).body;
}

/** Polls until check() returns something truthy (webhooks are processed in the background). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const value = await check().catch((err: unknown) => ((last = err), undefined));
    if (value) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

/** Per-currency ledger totals straight from the table: every posting must balance. */
export async function ledgerTotals(api: TestApp, currency: string): Promise<{ debits: number; credits: number }> {
  const { rows } = await api.db.query<{ debits: number; credits: number }>(
    `SELECT coalesce(sum(amount) FILTER (WHERE direction = 'debit'), 0)::bigint AS debits,
            coalesce(sum(amount) FILTER (WHERE direction = 'credit'), 0)::bigint AS credits
       FROM ledger_entries WHERE currency = $1`,
    [currency],
  );
  return rows[0];
}
