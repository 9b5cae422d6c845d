import { randomUUID } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { toApiError } from '../../src/common/errors/api-exception.filter';
import { IdempotencyRepository } from '../../src/common/idempotency/idempotency.repository';
import type { Transaction } from '../../src/database/database.types';
import { IdempotencyCleanupJob } from '../../src/common/idempotency/idempotency-cleanup.job';
import { productBody } from '../factories/products';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('idempotency (real PostgreSQL, two instances)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let admin: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl), startTestApp(dbUrl)]);
    admin = await a.key('admin');
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const countNamed = async (name: string) =>
    (await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM products WHERE name = $1', [name])).rows[0].n;

  it('replays the first response for the same key and body, with Idempotent-Replayed', async () => {
    const body = productBody();
    const first = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'replay-1').send(body);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const again = await b
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .set('Idempotency-Key', 'replay-1')
      .send({ prices: body.prices, name: body.name });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await countNamed(body.name)).toBe(1);
  });

  it('answers 422 idempotency_key_reused when the key comes back with another body', async () => {
    await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'reuse-1').send(productBody()).expect(201);
    const reused = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'reuse-1').send(productBody());
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_reused' });
  });

  it('answers later replays of a finished key from memory on each instance, and still refuses another body', async () => {
    const body = productBody();
    const first = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'memory-1').send(body).expect(201);
    // The claim commits without waiting for the disk (commitWithoutFlush); other key statements use query().
    const spies = [jest.spyOn(a.db, 'query'), jest.spyOn(a.db, 'commitWithoutFlush')];
    try {
      const keyStatements = () => spies.flatMap((spy) => spy.mock.calls).filter(([sql]) => sql.includes('idempotency_keys')).length;
      const replay = () => a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'memory-1').send(body);
      expect((await replay()).headers['idempotent-replayed']).toBe('true');
      expect(keyStatements()).toBe(1); // the first replay on this instance reads the key
      for (let i = 0; i < 3; i++) {
        const again = await replay();
        expect(again.status).toBe(201);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.body).toEqual(first.body);
      }
      const reused = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'memory-1').send(productBody());
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('idempotency_key_reused');
      expect(keyStatements()).toBe(1);
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
    expect(await countNamed(body.name)).toBe(1);
  });

  it('rejects a key longer than 255 characters', async () => {
    const res = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'k'.repeat(256)).send(productBody());
    expect(res.status).toBe(400);
  });

  it('scopes keys per merchant', async () => {
    await a.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_other', 'Other') ON CONFLICT DO NOTHING`);
    const otherAdmin = (await a.app.get(ApiKeysService).create('mer_other', 'admin')).secret;
    const body = productBody();
    await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'shared-key').send(body).expect(201);
    const other = await a.http().post('/admin/products').set('X-Api-Key', otherAdmin).set('Idempotency-Key', 'shared-key').send(body);
    expect(other.status).toBe(201);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
  });

  it('runs 50 concurrent requests with one key on two instances exactly once', async () => {
    const body = productBody();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? a : b).http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'race-1').send(body),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const created = responses.filter((r) => r.status === 201);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    for (const conflict of responses.filter((r) => r.status === 409)) {
      expect(conflict.body.error.code).toBe('idempotency_key_in_use');
    }
    expect(await countNamed(body.name)).toBe(1);
    // Once finished, every retry replays.
    const after = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'race-1').send(body);
    expect(after.status).toBe(201);
    expect(after.body.id).toBe(created[0].body.id);
  });

  it('takes over a key whose process died mid-request, once its lock is stale', async () => {
    // A claim whose transaction never committed, as left by a crashed process.
    const body = productBody();
    const first = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'stale-1').send(body);
    await a.db.query(`DELETE FROM products WHERE id = $1`, [first.body.id]);
    await a.db.query(
      `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, lock_token = gen_random_uuid(), locked_at = now()
        WHERE key = 'stale-1'`,
    );
    const busy = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'stale-1').send(body);
    expect(busy.status).toBe(409);
    await a.db.query(`UPDATE idempotency_keys SET locked_at = now() - interval '2 minutes' WHERE key = 'stale-1'`);
    const resumed = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'stale-1').send(body);
    expect(resumed.status).toBe(201);
    expect(await countNamed(body.name)).toBe(1);
  });

  it('a phase whose request lost its key to a retry fails in SQL and rolls back, even with COMMIT sent right behind it', async () => {
    const keys = a.app.get(IdempotencyRepository);
    await a.db.query(
      `INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path, request_hash, lock_token, locked_at, expires_at)
       VALUES ('mer_default', 'taken-1', 'POST', '/payments/process', 'h', gen_random_uuid(), now(), now() + interval '1 day')`,
    );
    // This request's lock token is not the row's: a retry took the key over.
    const ctx = {
      merchantId: 'mer_default',
      key: 'taken-1',
      lockToken: randomUUID(),
      recoveryPoint: 'started',
      completed: false,
      requestId: 'r',
    };
    const phase = (write: (tx: Transaction) => Promise<unknown>) =>
      a.db.transaction(async (tx) => {
        tx.later(tx.query(`INSERT INTO merchants (id, name) VALUES ($1, 'phase write')`, [`mer_${randomUUID()}`]));
        tx.later(write(tx));
      });
    const merchants = async () => (await a.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM merchants`)).rows[0].n;
    const before = await merchants();
    for (const write of [
      (tx: Transaction) => keys.advance(ctx, 'payment_created', tx),
      (tx: Transaction) => keys.completeOwned(ctx, { status: 201, body: '{}' }, tx),
    ]) {
      const failed = await phase(write).catch((err: unknown) => err);
      expect(toApiError(failed)).toMatchObject({
        status: 409,
        body: { error: { type: 'idempotency_error', code: 'idempotency_key_in_use' } },
      });
    }
    expect(await merchants()).toBe(before);
    const row = (await a.db.query(`SELECT recovery_point, response_status FROM idempotency_keys WHERE key = 'taken-1'`)).rows[0];
    expect(row).toEqual({ recovery_point: 'started', response_status: null });
  });

  it('deletes expired keys in the cleanup job, and treats an expired key as new', async () => {
    const body = productBody();
    await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'old-1').send(body).expect(201);
    await a.db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old-1'`);
    const fresh = await a.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', 'old-1').send(productBody());
    expect(fresh.status).toBe(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();

    await a.db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'old-1'`);
    expect(await a.app.get(IdempotencyCleanupJob).run()).toBeGreaterThanOrEqual(1);
    const { rows } = await a.db.query(`SELECT 1 FROM idempotency_keys WHERE key = 'old-1'`);
    expect(rows).toHaveLength(0);
  });
});
