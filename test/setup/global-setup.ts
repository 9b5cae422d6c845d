import { execSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { runMigrations } from '../../src/database/migrator';
import { databaseUrl } from './test-database';

/**
 * Once per run: a PostgreSQL server (DATABASE_URL, or an embedded one), a template database with every
 * migration applied (each test file clones it: CREATE DATABASE … TEMPLATE), and a fresh dist/ build (the API and the web pages) for
 * the tests that start the real process.
 */
export default async function globalSetup(): Promise<void> {
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'paybridge-test-'));
    const embedded = await startEmbeddedPostgres(dataDir);
    (globalThis as Record<string, unknown>).__PAYBRIDGE_EMBEDDED__ = embedded;
    baseUrl = embedded.url;
  }
  const prefix = `pbt_${Date.now().toString(36)}_${process.pid}`;
  const template = `${prefix}_template`;
  const admin = new Client({ connectionString: databaseUrl(baseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  await runMigrations(databaseUrl(baseUrl, template));

  process.env.PAYBRIDGE_TEST_BASE_URL = baseUrl;
  process.env.PAYBRIDGE_TEST_TEMPLATE = template;
  process.env.PAYBRIDGE_TEST_PREFIX = prefix;
  // Tests that spawn the real server or CLI run the compiled output of this very tree
  // (PAYBRIDGE_TEST_SKIP_BUILD=1 skips it when running only tests that do not spawn it).
  if (process.env.PAYBRIDGE_TEST_SKIP_BUILD !== '1') execSync('npm run build', { stdio: 'inherit' });
}
