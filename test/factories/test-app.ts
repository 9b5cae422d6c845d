import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.setup';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { DEFAULT_MERCHANT_ID, KeyKind } from '../../src/auth/auth.types';
import { DatabaseService } from '../../src/database/database.service';
import { databaseUrl, TEST_ENV, withAdminClient } from '../setup/test-database';

/** A database of its own for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<string> {
  const name = `${TEST_ENV.prefix()}_${randomBytes(4).toString('hex')}`;
  await withAdminClient((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEST_ENV.template()}`));
  return databaseUrl(TEST_ENV.baseUrl(), name);
}

/** An empty database (no migrations), for migration tests. */
export async function createEmptyDatabase(): Promise<string> {
  const name = `${TEST_ENV.prefix()}_${randomBytes(4).toString('hex')}`;
  await withAdminClient((admin) => admin.query(`CREATE DATABASE ${name}`));
  return databaseUrl(TEST_ENV.baseUrl(), name);
}

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  db: DatabaseService;
  http: () => ReturnType<typeof request>;
  key(kind: KeyKind): Promise<string>;
  close(): Promise<void>;
}

/**
 * One instance of the real application (same modules and pipeline as main.ts) listening on a free
 * loopback port. Start two on one database to test what crosses instances.
 */
export async function startTestApp(databaseUrlForApp: string, overrides: Record<string, string> = {}): Promise<TestApp> {
  // Fraud velocity rules would block most tests (every request comes from 127.0.0.1): fraud tests enable them.
  const app = await createApp({
    DATABASE_URL: databaseUrlForApp,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    FRAUD_ENABLED: 'false',
    ...overrides,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const keys = app.get(ApiKeysService);
  return {
    app,
    url,
    db: app.get(DatabaseService),
    http: () => request(url),
    key: async (kind) => (await keys.create(DEFAULT_MERCHANT_ID, kind)).secret,
    close: () => app.close(),
  };
}

export function dropDatabase(url: string): Promise<unknown> {
  const name = new URL(url).pathname.slice(1);
  return withAdminClient((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
