/** `5,300,1800` as milliseconds between attempts. */
export function parseSchedule(text: string): number[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => Number(part) * 1000);
}

/**
 * Spreads a delay by ±20% so that deliveries failed together (an endpoint that was down) do not all
 * come back in the same instant.
 */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.8 + 0.4 * random()));
}

/**
 * How long to wait after the attempt numbered `attempts` (1 = the first) failed, or null when the
 * schedule is spent and the delivery is dead.
 */
export function scheduledDelay(schedule: number[], attempts: number, random: () => number = Math.random): number | null {
  if (attempts < 1 || attempts > schedule.length) return null;
  return withJitter(schedule[attempts - 1], random);
}

/** Exponential backoff without an end (a sink of ours being down is an outage, not a bad recipient). */
export function exponentialDelay(attempts: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return withJitter(Math.min(capMs, baseMs * 2 ** Math.max(0, attempts - 1)), random);
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
