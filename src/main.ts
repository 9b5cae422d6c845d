import 'reflect-metadata';
import { Logger } from 'nestjs-pino';
import pino from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { createApp } from './app.setup';
import { InvalidEnvironmentError, readProcessEnv, validateEnv } from './config/env';
import { EmbeddedDatabase, startEmbeddedPostgres } from './database/embedded-postgres';
import { runMigrations } from './database/migrator';
import { seedDemo } from './seed/demo-seed';

// A shutdown that has not finished by then is forced (in-flight requests get this long to finish).
const SHUTDOWN_GRACE_MS = 20_000;

async function bootstrap(): Promise<void> {
  const env = validateEnv(readProcessEnv());
  const boot = pino({ level: env.LOG_LEVEL, name: 'boot' });
  const overrides: Record<string, string> = {};

  // No DATABASE_URL: a real PostgreSQL from the embedded-postgres package, data kept in PAYBRIDGE_DATA_DIR.
  let embedded: EmbeddedDatabase | undefined;
  if (!env.DATABASE_URL) {
    embedded = await startEmbeddedPostgres(env.PAYBRIDGE_DATA_DIR, env.EMBEDDED_POSTGRES_PORT, {
      info: (m) => boot.info(m),
      error: (m) => boot.error(m),
    });
    overrides.DATABASE_URL = embedded.url;
  }
  const databaseUrl = overrides.DATABASE_URL ?? (env.DATABASE_URL as string);
  if (env.MIGRATE_ON_START) {
    const applied = await runMigrations(databaseUrl, { info: (m) => boot.debug(m) });
    boot.info({ applied }, applied.length ? 'migrations applied' : 'database schema up to date');
  }

  // Here, once per process, not per application instance: prom-client starts an event-loop delay monitor
  // and a GC observer for these and cannot stop them, so an instance that starts them and is closed
  // (tests close many in one process) leaves them running, holding on to everything the instance built.
  collectDefaultMetrics();
  const app = await createApp(overrides);
  const logger = app.get(Logger);
  // The dev keys go to the terminal, not to the log stream: no LOG_LEVEL hides them, and no log keeps them.
  if (embedded) await seedDemo(app, { log: (message) => process.stderr.write(`${message}\n`) });
  await app.listen(env.PORT, env.HOST);
  logger.log(`Paybridge listening on http://${env.HOST}:${env.PORT} (docs at /docs)`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining`);
    const forced = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    // Fastify stops accepting connections and lets in-flight requests finish; then the modules close
    // (the pool drains).
    await app.close();
    if (embedded?.owned) await embedded.stop();
    clearTimeout(forced);
    process.exit(0);
  };
  // embedded-postgres hooks these signals to stop its server and exit at once (code 143), which would cut
  // the graceful shutdown short; this shutdown stops the embedded server itself, once requests are done.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

bootstrap().catch((err: unknown) => {
  // Configuration errors are for a person: the message names each bad variable.
  if (err instanceof InvalidEnvironmentError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`Paybridge failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
