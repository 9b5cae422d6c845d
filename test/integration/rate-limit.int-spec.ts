import { ApiKeysService } from '../../src/auth/api-keys.service';
import { DEFAULT_MERCHANT_ID, KeyKind } from '../../src/auth/auth.types';
import { RateLimitCleanupJob } from '../../src/common/rate-limit/rate-limit-cleanup.job';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const LIMIT = 5;

/** Checks out `n` of the app's pool connections until `released` settles (their transactions go to `holders`). */
async function holdConnections(app: TestApp, n: number, released: Promise<void>, holders: Promise<unknown>[]): Promise<void> {
  const held: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    let acquired!: () => void;
    held.push(new Promise<void>((resolve) => (acquired = resolve)));
    holders.push(
      app.db.transaction(async () => {
        acquired();
        await released;
      }),
    );
  }
  await Promise.all(held);
}

describe('rate limiting shared by every instance (real PostgreSQL, two instances)', () => {
  let dbUrl: string;
  // Both allow 5 requests per minute; A trusts X-Forwarded-For (behind a proxy), B does not.
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    const limit = { RATE_LIMIT_PER_MINUTE: String(LIMIT) };
    [a, b] = await Promise.all([
      startTestApp(dbUrl, { ...limit, TRUST_PROXY: 'true' }),
      startTestApp(dbUrl, { ...limit, TRUST_PROXY: 'false' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  /** A fresh key, so each test has budgets of its own. */
  const newKey = async (kind: KeyKind = 'publishable') => {
    const key = await a.app.get(ApiKeysService).create(DEFAULT_MERCHANT_ID, kind);
    return { id: key.id, secret: key.secret };
  };

  const secondsLeftInWindow = async () =>
    (
      await a.db.query<{ left: number }>(
        `SELECT extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now())::float8 AS "left"`,
      )
    ).rows[0].left;

  /** Windows are whole minutes of the database's clock: start a test's burst well inside one. */
  const awaitRoomInWindow = async (seconds = 3) => {
    const left = await secondsLeftInWindow();
    if (left < seconds) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
  };

  const counters = async (apiKeyId: string) =>
    (
      await a.db.query<{ bucket: string; clientIp: string; count: number }>(
        `SELECT bucket, client_ip AS "clientIp", count FROM rate_limit_counters WHERE api_key_id = $1 ORDER BY client_ip`,
        [apiKeyId],
      )
    ).rows;

  it('shares one budget across both instances: the 6th request gets 429 rate_limit_error with Retry-After', async () => {
    const key = await newKey();
    await awaitRoomInWindow();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const res = await (i % 2 === 0 ? a : b).http().get('/products').set('X-Api-Key', key.secret);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);

    const limited = await b.http().get('/products').set('X-Api-Key', key.secret).set('X-Request-Id', 'rate-limited-1');
    const left = await secondsLeftInWindow();
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      error: {
        type: 'rate_limit_error',
        code: 'rate_limited',
        message: expect.stringMatching(/retry after \d+ s/),
        requestId: 'rate-limited-1',
      },
    });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    // Seconds to the end of the window, as the database's clock counts them.
    expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil(left));
    expect(retryAfter).toBeLessThanOrEqual(Math.min(60, Math.ceil(left) + 1));

    expect((await a.http().get('/products').set('X-Api-Key', key.secret)).status).toBe(429);
    expect(await counters(key.id)).toEqual([{ bucket: 'default', clientIp: '127.0.0.1', count: LIMIT + 2 }]);
    // Both instances now remember the refusal until the window ends: no further statement.
    const again = await b.http().get('/products').set('X-Api-Key', key.secret);
    expect(again.status).toBe(429);
    expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(retryAfter);
    expect((await a.http().get('/products').set('X-Api-Key', key.secret)).status).toBe(429);
    expect(await counters(key.id)).toEqual([{ bucket: 'default', clientIp: '127.0.0.1', count: LIMIT + 2 }]);
    const metrics = await b.http().get('/metrics');
    expect(metrics.text).toMatch(/^rate_limited_requests_total\{bucket="default"\} [1-9]/m);
  });

  it('holds under concurrency: of 20 parallel requests over both instances exactly 5 pass', async () => {
    const key = await newKey('secret');
    await awaitRoomInWindow();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b)
          .http()
          .get(i % 3 === 0 ? '/products?limit=1' : '/products')
          .set('X-Api-Key', key.secret),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20 - LIMIT);
    // Requests that arrived after their instance saw a refusal were refused without a statement.
    const [counter] = await counters(key.id);
    expect(counter.count).toBeGreaterThan(LIMIT);
    expect(counter.count).toBeLessThanOrEqual(20);
  });

  it('gives another key its own budget from the same address', async () => {
    const [first, second] = await Promise.all([newKey(), newKey('secret')]);
    await awaitRoomInWindow();
    for (let i = 0; i < LIMIT; i++) await a.http().get('/products').set('X-Api-Key', first.secret).expect(200);
    expect((await a.http().get('/products').set('X-Api-Key', first.secret)).status).toBe(429);
    expect((await a.http().get('/products').set('X-Api-Key', second.secret)).status).toBe(200);
    expect((await b.http().get('/products').set('X-Api-Key', second.secret)).status).toBe(200);
  });

  it('with TRUST_PROXY=true, counts the client named by X-Forwarded-For: another client has its own budget', async () => {
    const key = await newKey();
    await awaitRoomInWindow();
    const from = (ip: string) => a.http().get('/products').set('X-Api-Key', key.secret).set('X-Forwarded-For', ip);
    for (let i = 0; i < LIMIT; i++) await from('203.0.113.7').expect(200);
    expect((await from('203.0.113.7')).status).toBe(429);
    // The client is the left-most address; proxies append theirs.
    expect((await from('203.0.113.7, 10.0.0.2')).status).toBe(429); // remembered: no statement
    expect((await from('203.0.113.8')).status).toBe(200);
    expect((await a.http().get('/products').set('X-Api-Key', key.secret)).status).toBe(200); // the proxy itself
    // IPv6 clients are counted per /64.
    for (let i = 1; i <= LIMIT; i++) await from(`2001:db8:1:2::${i}`).expect(200);
    expect((await from('2001:db8:1:2:ffff::9')).status).toBe(429);
    expect((await from('2001:db8:1:3::1')).status).toBe(200);

    expect(await counters(key.id)).toEqual([
      { bucket: 'default', clientIp: '127.0.0.1', count: 1 },
      { bucket: 'default', clientIp: '2001:db8:1:2::/64', count: LIMIT + 1 },
      { bucket: 'default', clientIp: '2001:db8:1:3::/64', count: 1 },
      { bucket: 'default', clientIp: '203.0.113.7', count: LIMIT + 1 },
      { bucket: 'default', clientIp: '203.0.113.8', count: 1 },
    ]);
  });

  it('without TRUST_PROXY, ignores X-Forwarded-For: a new forwarded address buys no fresh budget', async () => {
    const key = await newKey();
    await awaitRoomInWindow();
    for (let i = 0; i < LIMIT; i++) {
      await b
        .http()
        .get('/products')
        .set('X-Api-Key', key.secret)
        .set('X-Forwarded-For', `198.51.100.${i + 1}`)
        .expect(200);
    }
    const res = await b.http().get('/products').set('X-Api-Key', key.secret).set('X-Forwarded-For', '198.51.100.99');
    expect(res.status).toBe(429);
    expect(await counters(key.id)).toEqual([{ bucket: 'default', clientIp: '127.0.0.1', count: LIMIT + 1 }]);
  });

  it('does not limit admin keys, public routes, or requests that fail authentication', async () => {
    const admin = await newKey('admin');
    const burst = 2 * LIMIT;
    for (let i = 0; i < burst; i++) {
      await (i % 2 === 0 ? a : b).http().get('/admin/products?limit=1').set('X-Api-Key', admin.secret).expect(200);
      await a.http().get('/health').expect(200);
    }
    expect(await counters(admin.id)).toEqual([]);
    const statuses = await Promise.all(
      Array.from({ length: burst }, () =>
        b
          .http()
          .get('/metrics')
          .then((r) => r.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    // ApiKeyGuard answers first: no key is 401, never a 429 or a 500.
    const anonymous = await a.http().get('/products');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('api_key_missing');
  });

  // With LIMIT = 5 every lease is a single token ((5 - count) / 16 < 1): counting stays one statement per request.
  it('costs one statement per counted request, none for an admin key or a client already refused', async () => {
    const [key, admin] = await Promise.all([newKey(), newKey('admin')]);
    await awaitRoomInWindow();
    await a.http().get('/products').set('X-Api-Key', key.secret).expect(200); // warms the key and catalog caches
    const spy = jest.spyOn(a.db, 'query');
    try {
      const counting = () => spy.mock.calls.filter(([sql]) => sql.includes('rate_limit_counters'));
      for (let i = 1; i < LIMIT; i++) await a.http().get('/products').set('X-Api-Key', key.secret).expect(200);
      expect(counting()).toHaveLength(LIMIT - 1);
      await a.http().get('/admin/products?limit=1').set('X-Api-Key', admin.secret).expect(200);
      expect(counting()).toHaveLength(LIMIT - 1);
      await a.http().get('/products').set('X-Api-Key', key.secret).expect(429);
      expect(counting()).toHaveLength(LIMIT);
      for (let i = 0; i < 10; i++) await a.http().get('/products').set('X-Api-Key', key.secret).expect(429);
      expect(counting()).toHaveLength(LIMIT);
    } finally {
      spy.mockRestore();
    }
  });

  it('deletes the counters of ended windows and keeps the current ones', async () => {
    const key = await newKey();
    await awaitRoomInWindow();
    await a.http().get('/products').set('X-Api-Key', key.secret).expect(200);
    await a.db.query(
      `INSERT INTO rate_limit_counters (merchant_id, bucket, api_key_id, client_ip, window_start, count)
       VALUES ($1, 'default', $2, '127.0.0.1', date_trunc('minute', now()) - interval '1 minute', 42),
              ($1, 'default', $2, '127.0.0.1', date_trunc('minute', now()) - interval '1 hour', 7)`,
      [DEFAULT_MERCHANT_ID, key.id],
    );
    expect(await a.app.get(RateLimitCleanupJob).run()).toBeGreaterThanOrEqual(2);
    expect(await counters(key.id)).toEqual([{ bucket: 'default', clientIp: '127.0.0.1', count: 1 }]);
  });

  it('fails open when the database cannot take the count (pool exhausted): a cached read still answers', async () => {
    const c = await startTestApp(dbUrl, {
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      DATABASE_POOL_MAX: '2',
      DATABASE_ACQUIRE_TIMEOUT_MS: '200',
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holders: Promise<unknown>[] = [];
    const key = await newKey();
    try {
      await awaitRoomInWindow();
      await c.http().get('/products').set('X-Api-Key', key.secret).expect(200); // key and catalog now cached on C
      // Hold both of C's connections.
      await holdConnections(c, 2, released, holders);
      const res = await c.http().get('/products').set('X-Api-Key', key.secret);
      expect(res.status).toBe(200);
      release();
      await Promise.allSettled(holders);
      const metrics = await c.http().get('/metrics');
      expect(metrics.text).toMatch(/^rate_limit_unchecked_total\{bucket="default"\} 1$/m);
    } finally {
      release();
      await Promise.allSettled(holders);
      await c.close();
    }
    // Only the request made while the pool was free was counted.
    expect(await counters(key.id)).toEqual([{ bucket: 'default', clientIp: '127.0.0.1', count: 1 }]);
  });
  describe('with limits large enough for leases of several tokens', () => {
    const LEASED_LIMIT = 320;
    const SHARED_LIMIT = 40;
    // One instance with a 320 limit and a small pool (so that a test can hold all of it); two with a 40 limit.
    let big: TestApp;
    let p: TestApp;
    let q: TestApp;

    beforeAll(async () => {
      [big, p, q] = await Promise.all([
        startTestApp(dbUrl, { RATE_LIMIT_PER_MINUTE: String(LEASED_LIMIT), DATABASE_POOL_MAX: '2', DATABASE_ACQUIRE_TIMEOUT_MS: '200' }),
        startTestApp(dbUrl, { RATE_LIMIT_PER_MINUTE: String(SHARED_LIMIT) }),
        startTestApp(dbUrl, { RATE_LIMIT_PER_MINUTE: String(SHARED_LIMIT) }),
      ]);
    });
    afterAll(() => Promise.all([big?.close(), p?.close(), q?.close()]));

    const lease = async (apiKeyId: string) =>
      (
        await a.db.query<{ count: number; granted: number }>(`SELECT count, granted FROM rate_limit_counters WHERE api_key_id = $1`, [
          apiKeyId,
        ])
      ).rows;
    const leasing = (spy: jest.SpyInstance) => spy.mock.calls.filter(([sql]) => String(sql).includes('rate_limit_counters'));

    it('spends a lease without statements: 320 requests cost 71 statements, and the 321st is refused', async () => {
      const key = await newKey();
      await awaitRoomInWindow(10);
      const spy = jest.spyOn(big.db, 'query');
      const get = () => big.http().get('/products').set('X-Api-Key', key.secret);
      try {
        // A fresh window: 320 / 16 = 20 tokens; this request spends the first, the instance keeps 19.
        await get().expect(200);
        expect(leasing(spy)).toHaveLength(1);
        expect(await lease(key.id)).toEqual([{ count: 20, granted: 20 }]);
        for (let i = 1; i < 20; i++) await get().expect(200);
        expect(leasing(spy)).toHaveLength(1);
        // The next lease shrinks with what the window has left: (320 - 20) / 16 = 18.
        await get().expect(200);
        expect(leasing(spy)).toHaveLength(2);
        expect(await lease(key.id)).toEqual([{ count: 38, granted: 18 }]);
        for (let i = 21; i < LEASED_LIMIT; i++) await get().expect(200);
        // Leases of 20, 18, 17, 16, 15, … and one token at a time once fewer than 32 are left: 71 in all, and exactly
        // the limit on one instance (nothing leased is left unspent).
        expect(leasing(spy)).toHaveLength(71);
        expect(await lease(key.id)).toEqual([{ count: LEASED_LIMIT, granted: 1 }]);
        await get().expect(429);
        expect(leasing(spy)).toHaveLength(72);
        await get().expect(429); // remembered: no statement
        expect(leasing(spy)).toHaveLength(72);
      } finally {
        spy.mockRestore();
      }
    });

    it('keeps spending leased tokens while the database cannot take a lease, then fails open', async () => {
      const key = await newKey();
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holders: Promise<unknown>[] = [];
      await awaitRoomInWindow(10);
      const get = () => big.http().get('/products').set('X-Api-Key', key.secret);
      const unchecked = async () =>
        Number(/^rate_limit_unchecked_total\{bucket="default"\} (\d+)$/m.exec((await big.http().get('/metrics')).text)?.[1] ?? 0);
      try {
        await get().expect(200); // a lease of 20; key and catalog now cached
        const before = await unchecked();
        await holdConnections(big, 2, released, holders);
        for (let i = 1; i < 20; i++) await get().expect(200);
        expect(await unchecked()).toBe(before);
        await get().expect(200); // no tokens left and no connection: let through unchecked
        expect(await unchecked()).toBe(before + 1);
      } finally {
        release();
        await Promise.allSettled(holders);
      }
      expect(await lease(key.id)).toEqual([{ count: 20, granted: 20 }]);
    });

    it('never admits more than the limit across two instances, sent one at a time: exactly 40', async () => {
      const key = await newKey();
      await awaitRoomInWindow(10);
      const statuses: number[] = [];
      for (let i = 0; i < SHARED_LIMIT + 2; i++)
        statuses.push((await (i % 2 === 0 ? p : q).http().get('/products').set('X-Api-Key', key.secret)).status);
      // Leases of 2 while 40 / 16 … 32 / 16 ≥ 2 (tokens 1–10), then of 1: each instance spends its spare
      // token on its next request, so nothing is lost.
      expect(statuses).toEqual([...Array<number>(SHARED_LIMIT).fill(200), 429, 429]);
      expect(await lease(key.id)).toEqual([{ count: SHARED_LIMIT + 2, granted: 1 }]);
    });

    it('never admits more than the limit across two instances under concurrency, and loses at most 5 tokens', async () => {
      const key = await newKey('secret');
      await awaitRoomInWindow(10);
      const statuses: number[] = [];
      // 120 requests in waves of 20 concurrent ones over both instances: some find a token their instance
      // holds, some take leases at once.
      for (let wave = 0; wave < 6; wave++) {
        const responses = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? p : q).http().get('/products').set('X-Api-Key', key.secret)),
        );
        statuses.push(...responses.map((r) => r.status));
      }
      const admitted = statuses.filter((s) => s === 200).length;
      expect(statuses.filter((s) => s === 429)).toHaveLength(statuses.length - admitted);
      // Never more than the limit: every admitted request spent a distinct token numbered ≤ 40.
      expect(admitted).toBeLessThanOrEqual(SHARED_LIMIT);
      // Grants depend only on the count, whichever instance asks: 2 tokens at counts 0, 2, 4, 6 and 8
      // ((40 - 8) / 16 = 2), then 1 from count 10 on. Only a 2-token lease has a spare token its instance
      // may not spend, so at most 5 of the 40 are lost. And tokens 1–40 were all leased: the 80 or more
      // requests refused needed a count past 40 (a remembered refusal follows one from the database).
      expect(admitted).toBeGreaterThanOrEqual(SHARED_LIMIT - 5);
      const [row] = await lease(key.id);
      expect(row.count).toBeGreaterThan(SHARED_LIMIT);
      expect(row.count).toBeLessThanOrEqual(statuses.length + 5);
    });
  });
});
