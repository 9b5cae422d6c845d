import { exponentialDelay, parseRetryAfter, parseSchedule, scheduledDelay } from './retry-schedule';

describe('retry schedule', () => {
  const schedule = parseSchedule('5,300,1800,7200,18000,36000,36000');

  it('follows the Standard Webhooks schedule with ±20% jitter, then gives up', () => {
    expect(schedule).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(scheduledDelay(schedule, 1, () => 0.5)).toBe(5_000);
    expect(scheduledDelay(schedule, 1, () => 0)).toBe(4_000);
    expect(scheduledDelay(schedule, 2, () => 0.999999)).toBe(360_000);
    expect(scheduledDelay(schedule, 7, () => 0.5)).toBe(36_000_000);
    expect(scheduledDelay(schedule, 8)).toBeNull();
    // About three days in all.
    const total = schedule.reduce((a, b) => a + b, 0) / 3_600_000;
    expect(total).toBeGreaterThan(27);
  });

  it('backs off exponentially up to its cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => exponentialDelay(n, 1_000, 60_000, () => 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 60_000]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
