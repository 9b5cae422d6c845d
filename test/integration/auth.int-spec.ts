import { createHash } from 'node:crypto';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('API keys (real PostgreSQL)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl), startTestApp(dbUrl)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  it('answers 401 without a key and with an unknown key, in the API error shape', async () => {
    const missing = await a.http().get('/products').set('X-Request-Id', 'req-auth-1');
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ type: 'authentication_error', code: 'api_key_missing', requestId: 'req-auth-1' });
    expect(missing.headers['x-request-id']).toBe('req-auth-1');

    const unknown = await a.http().get('/products').set('X-Api-Key', 'sk_doesnotexist');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('api_key_invalid');
  });

  it('answers 403 for a valid key of the wrong kind', async () => {
    const pk = await a.key('publishable');
    const sk = await a.key('secret');
    const ak = await a.key('admin');
    expect((await a.http().post('/admin/products').set('X-Api-Key', pk).send({})).status).toBe(403);
    expect((await a.http().post('/admin/products').set('X-Api-Key', sk).send({})).status).toBe(403);
    const forbidden = await a.http().get('/products').set('X-Api-Key', ak);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatchObject({ type: 'authentication_error', code: 'api_key_kind_forbidden' });
    expect((await a.http().get('/products').set('X-Api-Key', pk)).status).toBe(200);
  });

  it('stores only a SHA-256 hash of each key', async () => {
    const created = await a
      .http()
      .post('/admin/api-keys')
      .set('X-Api-Key', await a.key('admin'))
      .send({ kind: 'secret' });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^sk_[A-Za-z0-9]{32}$/);
    const { rows } = await a.db.query<{ hash: string }>(`SELECT encode(key_hash, 'hex') AS hash FROM api_keys WHERE id = $1`, [
      created.body.id,
    ]);
    expect(rows[0].hash).toBe(createHash('sha256').update(created.body.secret).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(created.body.secret);
  });

  it('never stores a new key secret for an Idempotency-Key replay: each request makes its own key', async () => {
    const admin = await a.key('admin');
    const create = () =>
      a.http().post('/admin/api-keys').set('X-Api-Key', admin).set('Idempotency-Key', 'key-creation-1').send({ kind: 'secret' });
    const [first, second] = [await create(), await create()];
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body.id).not.toBe(first.body.id);
    const stored = await a.db.query(`SELECT response_body FROM idempotency_keys WHERE key = 'key-creation-1'`);
    expect(stored.rows).toEqual([]);
  });

  it('refuses a revoked key with 401 on every instance within a second', async () => {
    const admin = await a.key('admin');
    const sk = await a.key('secret');
    // Both instances have the key cached as valid.
    expect((await a.http().get('/products').set('X-Api-Key', sk)).status).toBe(200);
    expect((await b.http().get('/products').set('X-Api-Key', sk)).status).toBe(200);
    const { rows } = await a.db.query<{ id: string }>(`SELECT id FROM api_keys ORDER BY created_at DESC LIMIT 1`);

    const revoked = await a.http().delete(`/admin/api-keys/${rows[0].id}`).set('X-Api-Key', admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toBeTruthy();

    expect((await a.http().get('/products').set('X-Api-Key', sk)).status).toBe(401);
    const deadline = Date.now() + 1000;
    let status = 0;
    while (Date.now() < deadline && status !== 401) {
      status = (await b.http().get('/products').set('X-Api-Key', sk)).status;
    }
    expect(status).toBe(401);
  });
});
