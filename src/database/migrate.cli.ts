import { readProcessEnv, validateEnv } from '../config/env';
import { startEmbeddedPostgres } from './embedded-postgres';
import { runMigrations } from './migrator';

/** `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded server. */
async function main(): Promise<void> {
  const env = validateEnv(readProcessEnv());
  const log = { info: (m: string) => process.stderr.write(`${m}\n`), error: (m: string) => process.stderr.write(`${m}\n`) };
  const embedded = env.DATABASE_URL ? undefined : await startEmbeddedPostgres(env.PAYBRIDGE_DATA_DIR, env.EMBEDDED_POSTGRES_PORT, log);
  try {
    const applied = await runMigrations(env.DATABASE_URL ?? (embedded?.url as string), log);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'No migrations to apply.\n');
  } finally {
    if (embedded?.owned) await embedded.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`Migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
