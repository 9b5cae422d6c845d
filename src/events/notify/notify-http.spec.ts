import { notifyRetryDelay } from './notify-http';

describe('notifyRetryDelay (NOTIFY_RETRY_SCHEDULE)', () => {
  const schedule = [1_000, 2_000, 4_000];

  it('follows the schedule with jitter, then gives up', () => {
    expect(notifyRetryDelay(schedule, 1, { delivered: false })).toBeGreaterThanOrEqual(800);
    expect(notifyRetryDelay(schedule, 3, { delivered: false })).toBeLessThanOrEqual(4_800);
    expect(notifyRetryDelay(schedule, 4, { delivered: false })).toBeNull();
  });

  it("takes the service's wait (429 retry_after) instead of the scheduled one, within the schedule", () => {
    expect(notifyRetryDelay(schedule, 1, { delivered: false, statusCode: 429, retryAfterMs: 30_500 })).toBe(30_500);
    expect(notifyRetryDelay(schedule, 4, { delivered: false, statusCode: 429, retryAfterMs: 30_500 })).toBeNull();
  });
});
