import { Client } from 'pg';
import type { EmbeddedDatabase } from '../../src/database/embedded-postgres';
import { databaseUrl } from './test-database';

/** Drops every database this run created, then stops the embedded server if one was started. */
export default async function globalTeardown(): Promise<void> {
  const baseUrl = process.env.PAYBRIDGE_TEST_BASE_URL;
  const prefix = process.env.PAYBRIDGE_TEST_PREFIX;
  if (baseUrl && prefix) {
    const admin = new Client({ connectionString: databaseUrl(baseUrl, 'postgres') });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  const embedded = (globalThis as Record<string, unknown>).__PAYBRIDGE_EMBEDDED__ as EmbeddedDatabase | undefined;
  await embedded?.stop();
}
