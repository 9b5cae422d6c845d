import { join } from 'node:path';

export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations');

export interface MigrationLog {
  info(message: string): void;
}

/**
 * Applies pending migrations with node-pg-migrate. Its advisory lock (in 'wait' mode) makes two
 * instances starting at once safe: the second waits, then finds nothing to do.
 * Returns the names of the migrations it applied.
 */
export async function runMigrations(databaseUrl: string, log?: MigrationLog): Promise<string[]> {
  // node-pg-migrate 9 is ESM-only; Node >= 20.19 loads it from CommonJS.
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    singleTransaction: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    logger: {
      debug: () => undefined,
      info: (m: string) => log?.info(m),
      warn: (m: string) => log?.info(m),
      error: (m: string) => log?.info(m),
    },
  });
  return applied.map((m) => m.name);
}
