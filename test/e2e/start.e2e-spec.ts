import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../src/database/embedded-postgres';
import { cleanEnv, spawnProject, Spawned, waitFor } from '../helpers/process';

/**
 * `npm start` with no DATABASE_URL: the real process starts an embedded PostgreSQL, migrates it, seeds
 * the demo catalog and dev keys, serves a healthy /health, and stops the database on SIGTERM.
 */
describe('npm start without DATABASE_URL (real process, embedded PostgreSQL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'paybridge-start-'));
  let server: Spawned | undefined;
  let base: string;

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<Spawned> {
    const port = await findFreePort();
    base = `http://127.0.0.1:${port}`;
    const spawned = spawnProject(
      ['dist/main.js'],
      cleanEnv({ PORT: String(port), HOST: '127.0.0.1', PAYBRIDGE_DATA_DIR: dataDir, LOG_LEVEL: 'info' }),
    );
    await waitFor(
      async () => ((await fetch(`${base}/health`)).status === 200 ? true : undefined),
      45_000,
      `/health of ${base}\n${spawned.output()}`,
    );
    return spawned;
  }

  it('reaches a healthy /health, prints dev keys once, serves the demo catalog and docs, and shuts down cleanly', async () => {
    server = await start();
    const health = (await (await fetch(`${base}/health`)).json()) as { details: { database: { status: string } } };
    expect(health.details.database.status).toBe('up');

    const keys = Object.fromEntries(
      [...server.output().matchAll(/(publishable|secret|admin)\s+((?:pk|sk|ak)_[A-Za-z0-9]{32})/g)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(keys).sort()).toEqual(['admin', 'publishable', 'secret']);
    const products = (await (await fetch(`${base}/products`, { headers: { 'X-Api-Key': keys.publishable } })).json()) as {
      data: unknown[];
    };
    expect(products.data.length).toBeGreaterThanOrEqual(4);

    // The compiled build carries the OpenAPI plugin: DTO fields are documented.
    const docs = (await (await fetch(`${base}/docs-json`)).json()) as { components: { schemas: Record<string, { properties: object }> } };
    expect(Object.keys(docs.components.schemas.CreateProductDto.properties)).toEqual(
      expect.arrayContaining(['name', 'prices', 'billingType']),
    );

    // Node's process metrics come from main.ts, not from the application instance: served together.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(metrics).toContain('# TYPE http_request_duration_seconds histogram');

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // Restart on the same data directory: data survives, keys are not printed again.
    server = await start();
    expect(server.output()).not.toMatch(/pk_[A-Za-z0-9]{32}/);
    const again = await fetch(`${base}/products`, { headers: { 'X-Api-Key': keys.publishable } });
    expect(again.status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
