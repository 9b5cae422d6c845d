import { isHardDecline, nextDunningDue, nextRetryAt, openDunning, parseRetryDays } from './dunning-rules';
import { addMonths } from './subscription-billing';

const DAY = 86_400_000;

describe('dunning rules', () => {
  const t0 = new Date('2026-03-10T12:00:00.000Z');
  const opened = openDunning(t0, parseRetryDays('1,3,7'), 7);

  it('retries on the schedule counted from the first failure, then none', () => {
    const at = (declines: number) => nextRetryAt({ ...opened, declines, hardDeclined: false });
    expect([1, 2, 3, 4].map((d) => at(d)?.getTime() ?? null)).toEqual([
      t0.getTime() + DAY,
      t0.getTime() + 3 * DAY,
      t0.getTime() + 7 * DAY,
      null,
    ]);
    expect(opened.graceEndsAt.getTime()).toBe(t0.getTime() + 7 * DAY);
  });

  it('a hard decline is not retried', () => {
    expect(nextRetryAt({ ...opened, declines: 1, hardDeclined: true })).toBeNull();
    expect(isHardDecline('stolen_card')).toBe(true);
    expect(isHardDecline('insufficient_funds')).toBe(false);
    expect(isHardDecline(null)).toBe(false);
  });

  it('the job looks again at the next retry, or at the grace end when sooner or nothing is left', () => {
    expect(nextDunningDue(new Date(t0.getTime() + DAY), opened.graceEndsAt).getTime()).toBe(t0.getTime() + DAY);
    expect(nextDunningDue(null, opened.graceEndsAt)).toBe(opened.graceEndsAt);
    expect(nextDunningDue(new Date(t0.getTime() + 10 * DAY), opened.graceEndsAt)).toBe(opened.graceEndsAt);
  });

  it('parses DUNNING_RETRY_DAYS in ascending order', () => {
    expect(parseRetryDays('7, 1,3')).toEqual([1, 3, 7]);
  });

  it('calendar months clamp the day to the month’s last', () => {
    expect(addMonths(new Date('2026-01-31T10:00:00Z'), 1).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonths(new Date('2028-01-31T10:00:00Z'), 1).toISOString()).toBe('2028-02-29T10:00:00.000Z');
    expect(addMonths(new Date('2026-11-15T00:00:00Z'), 12).toISOString()).toBe('2027-11-15T00:00:00.000Z');
  });
});
