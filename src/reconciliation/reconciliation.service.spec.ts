import { previousUtcDay } from './reconciliation.service';

describe('previousUtcDay', () => {
  it('is the UTC day before now, midnight to midnight, whatever the hour', () => {
    expect(previousUtcDay(new Date('2026-12-04T03:00:00Z'))).toEqual({
      from: new Date('2026-12-03T00:00:00Z'),
      to: new Date('2026-12-04T00:00:00Z'),
    });
    expect(previousUtcDay(new Date('2026-01-01T23:59:59.999Z'))).toEqual({
      from: new Date('2025-12-31T00:00:00Z'),
      to: new Date('2026-01-01T00:00:00Z'),
    });
  });
});
