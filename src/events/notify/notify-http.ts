import type { SinkResult } from '../relay/sink';
import { parseRetryAfter, scheduledDelay } from '../relay/retry-schedule';

/**
 * POSTs JSON to a notification service (Discord, Slack, Meta) and turns the answer into a SinkResult:
 * 2xx delivered; 429 with its wait (Retry-After, or Discord's `retry_after` seconds in the JSON body);
 * anything else failed, with the start of the body as the error (the service says why there).
 */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<SinkResult & { body?: string }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Paybridge-Events/1' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error;
    return { delivered: false, error: e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : e.message };
  }
  const text = await res.text().catch(() => '');
  if (res.ok) return { delivered: true, statusCode: res.status, body: text };
  const result: SinkResult = { delivered: false, statusCode: res.status, error: `HTTP ${res.status}: ${text.slice(0, 500)}` };
  if (res.status === 429) result.retryAfterMs = retryAfterBody(text) ?? parseRetryAfter(res.headers.get('retry-after') ?? undefined);
  return result;
}

/** Discord's rate-limit answer: `{"retry_after": 1.5, ...}` in seconds (fractional). */
function retryAfterBody(text: string): number | undefined {
  try {
    const value = (JSON.parse(text) as { retry_after?: unknown }).retry_after;
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.ceil(value * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The notification sinks' retries: NOTIFY_RETRY_SCHEDULE (1, 2, 4 s) then dead. A wait the service asked
 * for (429) replaces the scheduled one but does not extend the schedule.
 */
export function notifyRetryDelay(schedule: number[], attempt: number, result: SinkResult): number | null {
  const scheduled = scheduledDelay(schedule, attempt);
  if (scheduled === null) return null;
  return result.retryAfterMs ?? scheduled;
}
