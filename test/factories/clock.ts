import type { TestApp } from './test-app';

/**
 * Rate-limit counters use one-minute windows of the database clock, so a test that must stay inside one
 * window starts past the next boundary when fewer than `marginSeconds` are left: it waits for the clock
 * itself (nothing to poll), never before a "nothing happened" check.
 */
export async function awayFromMinuteEnd(api: Pick<TestApp, 'db'>, marginSeconds = 5): Promise<void> {
  const { rows } = await api.db.query<{ s: number }>(`SELECT extract(second FROM now())::float8 AS s`);
  if (rows[0].s > 60 - marginSeconds) await new Promise((r) => setTimeout(r, (60.5 - rows[0].s) * 1000));
}
