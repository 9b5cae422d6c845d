import { createHmac, randomBytes } from 'node:crypto';
import { WebhookProcessor } from '../../src/webhooks/webhook-processor';
import { eventually } from './payments';
import type { TestApp } from './test-app';

/** The simulator's webhook secret in tests (SIMULATOR_WEBHOOK_SECRET's default). */
const SIMULATOR_SECRET = 'whsec_simulator_dev';

export interface StoredEvent {
  status: string;
  attempts: number;
  last_error: string | null;
}

/**
 * Posts a signed simulator event, as the simulator sends it, and waits until Paybridge has processed it;
 * with `until`, until its stored row satisfies that instead (a failed attempt, a dead letter).
 */
export async function deliverSimulatorEvent(
  api: TestApp,
  type: string,
  data: Record<string, unknown>,
  until: (stored: StoredEvent) => boolean = (stored) => stored.status === 'processed',
): Promise<StoredEvent & { eventId: string }> {
  const event = { id: `evt_sim_${randomBytes(8).toString('hex')}`, type, created: Math.floor(Date.now() / 1000), data };
  const body = JSON.stringify(event);
  const signature = createHmac('sha256', SIMULATOR_SECRET).update(body).digest('hex');
  const res = await api.http().post('/webhooks/simulator').set('Content-Type', 'application/json').set('X-Signature', signature).send(body);
  if (res.status !== 200) throw new Error(`POST /webhooks/simulator answered ${res.status}: ${JSON.stringify(res.body)}`);
  return eventually(async () => {
    const { rows } = await api.db.query<StoredEvent>(
      `SELECT status, attempts, last_error FROM payment_webhook_events WHERE provider = 'simulator' AND event_id = $1`,
      [event.id],
    );
    return rows[0] && until(rows[0]) ? { ...rows[0], eventId: event.id } : undefined;
  });
}

/** The data of a simulator event about one of its charges (default merchant, USD). */
export function chargeEvent(reference: string, chargeId: string, amount = 8000) {
  return { merchantId: 'mer_default', reference, sessionId: null, chargeId, amount, currency: 'USD' };
}

/**
 * Processes every stored webhook event that is due, now, and waits for those being processed in the
 * background, until none is left to process: what a "nothing (more) happened" check waits for instead
 * of a fixed sleep. An event waiting out a retry backoff after a failed attempt is not waited for.
 */
export async function drainWebhooks(api: TestApp, timeoutMs = 5000): Promise<void> {
  const processor = api.app.get(WebhookProcessor);
  await eventually(async () => {
    await processor.poll(); // 0 when the background worker is polling: then the count below waits for it
    const { rows } = await api.db.query<{ n: number }>(
      `SELECT count(*)::int AS n
         FROM payment_webhook_events
        WHERE status = 'pending'
          AND (next_attempt_at <= now() OR last_error IS NULL)`,
    );
    return rows[0].n === 0;
  }, timeoutMs);
}
