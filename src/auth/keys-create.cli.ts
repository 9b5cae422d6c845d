import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { readProcessEnv, validateEnv } from '../config/env';
import { startEmbeddedPostgres } from '../database/embedded-postgres';
import { runMigrations } from '../database/migrator';
import { ApiKeysService } from './api-keys.service';
import { DEFAULT_MERCHANT_ID, KEY_KINDS, KeyKind } from './auth.types';

/**
 * `npm run --silent keys:create -- --kind admin [--label text] [--merchant id]`
 * Prints the new key alone on stdout; everything else goes to stderr.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { kind: { type: 'string' }, label: { type: 'string' }, merchant: { type: 'string', default: DEFAULT_MERCHANT_ID } },
  });
  const kind = values.kind as KeyKind;
  if (!KEY_KINDS.includes(kind)) throw new Error(`--kind must be one of ${KEY_KINDS.join(', ')}`);

  const env = validateEnv(readProcessEnv());
  const log = { info: (m: string) => process.stderr.write(`${m}\n`), error: (m: string) => process.stderr.write(`${m}\n`) };
  const embedded = env.DATABASE_URL ? undefined : await startEmbeddedPostgres(env.PAYBRIDGE_DATA_DIR, env.EMBEDDED_POSTGRES_PORT, log);
  const databaseUrl = env.DATABASE_URL ?? (embedded?.url as string);
  try {
    await runMigrations(databaseUrl);
    const appEnv = validateEnv({ ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', JOBS_ENABLED: 'false' });
    const app = await NestFactory.createApplicationContext(AppModule.register(appEnv), { logger: false });
    try {
      const key = await app.get(ApiKeysService).create(values.merchant as string, kind, values.label ?? null);
      process.stdout.write(`${key.secret}\n`);
    } finally {
      await app.close();
    }
  } finally {
    if (embedded?.owned) await embedded.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`keys:create failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
