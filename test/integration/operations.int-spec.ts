import { findFreePort } from '../../src/database/embedded-postgres';
import { productBody } from '../factories/products';
import { eventually } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('operations: health, metrics, docs, pool limits (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { DATABASE_POOL_MAX: '3', DATABASE_ACQUIRE_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  it('reports a healthy database on /health', async () => {
    const res = await api.http().get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', details: { database: { status: 'up' } } });
  });

  it('answers 503 on /health when the database is unreachable', async () => {
    const closedPort = await findFreePort();
    const down = await startTestApp(`postgres://postgres@127.0.0.1:${closedPort}/nothing`, { DATABASE_ACQUIRE_TIMEOUT_MS: '300' });
    try {
      const res = await down.http().get('/health');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ status: 'error', details: { database: { status: 'down' } } });
      // Any route that needs the database says service_unavailable, not 500.
      const products = await down.http().get('/products').set('X-Api-Key', 'pk_anything');
      expect(products.status).toBe(503);
      expect(products.body.error).toMatchObject({ type: 'api_error', code: 'service_unavailable' });
    } finally {
      await down.close();
    }
  });

  it('answers 503 service_unavailable after a bounded wait when the pool is exhausted, then recovers', async () => {
    const pk = await api.key('publishable');
    const admin = await api.key('admin');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Hold every connection of the 3-connection pool.
    const holders = Array.from({ length: 3 }, () => api.db.transaction(() => held));
    await eventually(async () => api.db.isUnderPressure());

    // Non-critical work is shed at once; critical work waits the bounded time, then gets 503.
    const shed = await api.http().get('/admin/products').set('X-Api-Key', admin);
    expect(shed.status).toBe(503);
    expect(shed.body.error.code).toBe('service_unavailable');
    const started = Date.now();
    const res = await api.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'pool-1').send(productBody());
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'api_error', code: 'service_unavailable' });
    expect(res.headers['retry-after']).toBeDefined();
    expect(Date.now() - started).toBeLessThan(5000);

    release();
    await Promise.all(holders);
    expect((await api.http().get('/products').set('X-Api-Key', pk)).status).toBe(200);
  });

  it('exports HTTP latency by route and pool gauges on /metrics', async () => {
    await api.http().get('/health');
    const res = await api.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/health"[^}]*status="200"/);
    for (const gauge of [
      'db_pool_connections_total',
      'db_pool_connections_idle',
      'db_pool_waiting_requests',
      'db_pool_connections_in_use',
      'outbox_unpublished_events',
    ]) {
      expect(res.text).toContain(`# TYPE ${gauge} gauge`);
    }
  });

  it('serves the OpenAPI document with every route, DTO and error response', async () => {
    const res = await api.http().get('/docs-json');
    expect(res.status).toBe(200);
    const paths = Object.keys(res.body.paths);
    for (const path of [
      '/products',
      '/products/{id}',
      '/admin/products',
      '/admin/products/{id}',
      '/admin/api-keys',
      '/admin/cache/invalidate',
      '/health',
    ]) {
      expect(paths).toContain(path);
    }
    expect(res.body.paths['/admin/products'].post.responses['400'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/ApiErrorResponse',
    );
    expect((await api.http().get('/docs')).status).toBe(200);
  });
});
