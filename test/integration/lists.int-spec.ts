import { randomBytes } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import type { KeyKind } from '../../src/auth/auth.types';
import { checkoutBody, createCheckout, createProduct, newKey, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { deliverSimulatorEvent } from '../factories/webhooks';

type Item = Record<string, unknown>;
interface ListAnswer {
  data: Item[];
  hasMore: boolean;
  page?: number;
  total?: number;
}

/**
 * GET /transactions and the admin lists: every filter each accepts, and both ways of paging
 * (`?page=` with `total`, `?startingAfter=` cursors) with a small limit: no duplicates, no gaps, even
 * among rows created in the same instant. Everything belongs to a merchant of this file's own.
 */
describe('lists: filters and pagination (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let merchantId: string;
  let keys: Record<KeyKind, string>;
  const emailA = `ada-${randomBytes(3).toString('hex')}@example.com`;
  const ids = { succeeded: [] as string[], failed: [] as string[], requiresAction: '', pending: '', old: '', future: '' };

  const list = async (key: string, path: string): Promise<ListAnswer> => {
    const res = await api.http().get(path).set('X-Api-Key', key);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const sep = (path: string) => (path.includes('?') ? '&' : '?');

  /** Every item, following cursors: each page full but the last, hasMore until then. */
  async function byCursor(key: string, path: string, idField: string, limit = 2): Promise<string[]> {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await list(key, `${path}${sep(path)}limit=${limit}${after ? `&startingAfter=${encodeURIComponent(after)}` : ''}`);
      // The first request has no cursor, so it is page 1 (with a total); cursor pages carry neither.
      if (after) expect([page.page, page.total]).toEqual([undefined, undefined]);
      seen.push(...page.data.map((item) => String(item[idField])));
      if (!page.hasMore) return seen;
      expect(page.data).toHaveLength(limit);
      after = seen.at(-1);
    }
    throw new Error('more than 50 pages');
  }

  /** Every item, page by page: `page` echoed, `total` the full count, hasMore until the last. */
  async function byPage(key: string, path: string, idField: string, limit = 2): Promise<string[]> {
    const seen: string[] = [];
    for (let n = 1; n <= 50; n++) {
      const page = await list(key, `${path}${sep(path)}limit=${limit}&page=${n}`);
      expect(page.page).toBe(n);
      seen.push(...page.data.map((item) => String(item[idField])));
      if (page.total !== undefined) expect(page.hasMore).toBe(n * limit < page.total);
      if (!page.hasMore) {
        if (page.total !== undefined) expect(seen).toHaveLength(page.total);
        return seen;
      }
    }
    throw new Error('more than 50 pages');
  }

  /** Both ways of paging give the whole list, in its order, each item once. */
  async function expectPagedLike(key: string, path: string, idField: string, expected: string[]) {
    const all = (await list(key, `${path}${sep(path)}limit=100`)).data.map((item) => String(item[idField]));
    expect(new Set(all)).toEqual(new Set(expected));
    expect(all).toHaveLength(expected.length);
    expect(await byCursor(key, path, idField)).toEqual(all);
    expect(await byPage(key, path, idField)).toEqual(all);
    expect(await byCursor(key, path, idField, 3)).toEqual(all);
  }

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { WEBHOOK_MAX_ATTEMPTS: '1' });
    merchantId = `mer_${randomBytes(6).toString('hex')}`;
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ($1, 'Lists')`, [merchantId]);
    const service = api.app.get(ApiKeysService);
    const key = async (kind: KeyKind) => (await service.create(merchantId, kind)).secret;
    keys = { publishable: await key('publishable'), secret: await key('secret'), admin: await key('admin') };

    const product = await createProduct(api, keys.admin);
    const charge = async (token: string, overrides: Record<string, unknown> = {}) =>
      (await processPayment(api, keys.secret, processBody(product.id, token, overrides))).body;
    for (let i = 0; i < 5; i++)
      ids.succeeded.push((await charge('tok_visa', i < 2 ? { customer: { email: emailA.toUpperCase() } } : {})).id);
    for (let i = 0; i < 3; i++) {
      await charge('tok_chargeDeclined');
    }
    ids.requiresAction = (await charge('tok_threeDSecure')).id;
    ids.pending = (await createCheckout(api, keys.publishable, checkoutBody(product.id))).body.paymentId;
    const failed = await api.db.query<{ id: string }>(`SELECT id FROM payments WHERE merchant_id = $1 AND status = 'failed'`, [merchantId]);
    ids.failed = failed.rows.map((r) => r.id);
    // Three succeeded payments created in the same instant: cursors must still neither repeat nor skip.
    await api.db.query(`UPDATE payments SET created_at = '2026-01-01T12:00:00Z' WHERE id = ANY($1)`, [ids.succeeded.slice(2)]);
    ids.old = ids.succeeded[2];
    ids.future = ids.succeeded[0];
    await api.db.query(`UPDATE payments SET created_at = '2025-06-01T00:00:00Z' WHERE id = $1`, [ids.failed[0]]);
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const everyPayment = () => [...ids.succeeded, ...ids.failed, ids.requiresAction, ids.pending];

  describe.each([
    ['GET /transactions', '/transactions', 'secret' as const],
    ['GET /admin/transactions', '/admin/transactions', 'admin' as const],
  ])('%s', (_, route, kind) => {
    it('filters by status, provider, customer email and creation time, alone and together', async () => {
      const ofFilter = async (query: string) => (await list(keys[kind], `${route}?limit=100&${query}`)).data.map((p) => p.id as string);
      const cases: [string, string[]][] = [
        ['status=succeeded', ids.succeeded],
        ['status=failed', ids.failed],
        ['status=requires_action', [ids.requiresAction]],
        ['status=pending', [ids.pending]],
        ['status=refunded', []],
        ['provider=simulator', everyPayment()], // the session's payment too: its session is open at the simulator
        ['provider=stripe', []],
        [`customerEmail=${encodeURIComponent(emailA)}`, ids.succeeded.slice(0, 2)],
        ['customerEmail=nobody%40example.com', []],
        ['from=2026-01-01T12:00:00Z&to=2026-01-01T12:00:01Z', ids.succeeded.slice(2)],
        ['to=2026-01-01T12:00:00Z', [ids.failed[0]]],
        ['from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', [ids.failed[0]]],
        ['status=failed&from=2026-01-01T00:00:00Z', ids.failed.slice(1)],
        [`status=succeeded&customerEmail=${encodeURIComponent(emailA)}&provider=simulator`, ids.succeeded.slice(0, 2)],
      ];
      for (const [query, expected] of cases) {
        expect({ query, ids: new Set(await ofFilter(query)) }).toEqual({ query, ids: new Set(expected) });
      }
    });

    it('answers newest first, and pages through every payment by cursor and by page without repeats or gaps', async () => {
      const all = await list(keys[kind], `${route}?limit=100`);
      const created = all.data.map((p) => Date.parse(p.createdAt as string));
      expect(created).toEqual([...created].sort((x, y) => y - x));
      await expectPagedLike(keys[kind], route, 'id', everyPayment());
      await expectPagedLike(keys[kind], `${route}?status=succeeded`, 'id', ids.succeeded);
      // A cursor keeps the filter: what follows the first succeeded payment is succeeded too.
      const first = await list(keys[kind], `${route}?status=succeeded&limit=1`);
      const rest = await list(keys[kind], `${route}?status=succeeded&limit=100&startingAfter=${first.data[0].id as string}`);
      expect(rest.data.map((p) => p.status)).toEqual(ids.succeeded.slice(1).map(() => 'succeeded'));
    });

    it('a page past the end is empty; a cursor that names no payment of this merchant gives nothing', async () => {
      expect(await list(keys[kind], `${route}?limit=5&page=99`)).toEqual({
        data: [],
        hasMore: false,
        page: 99,
        total: everyPayment().length,
      });
      expect(await list(keys[kind], `${route}?startingAfter=pay_nosuchpayment`)).toEqual({ data: [], hasMore: false });
    });

    it('refuses a filter or a page it does not understand with a 400 naming it', async () => {
      for (const [query, param] of [
        ['status=settled', 'status'],
        ['provider=paypal', 'provider'],
        ['customerEmail=not-an-email', 'customerEmail'],
        ['from=yesterday', 'from'],
        ['to=2026-13-45', 'to'],
        ['limit=0', 'limit'],
        ['limit=101', 'limit'],
        ['page=0', 'page'],
        ['page=abc', 'page'],
      ]) {
        const res = await api.http().get(`${route}?${query}`).set('X-Api-Key', keys[kind]);
        expect({ query, status: res.status, param: res.body.error?.param }).toEqual({ query, status: 400, param });
      }
    });
  });

  it('GET /admin/failed-payments: the failed payments only, paged both ways', async () => {
    await expectPagedLike(keys.admin, '/admin/failed-payments', 'id', ids.failed);
  });

  it('GET /admin/coupons: the active filter, paged both ways by code', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await api
        .http()
        .post('/admin/coupons')
        .set('X-Api-Key', keys.admin)
        .set('Idempotency-Key', newKey())
        .send({ code: `LIST${i}${randomBytes(3).toString('hex')}`, type: 'PERCENTAGE', percentOff: 5 + i });
      expect(res.status).toBe(201);
      codes.push(res.body.code);
    }
    for (const code of codes.slice(0, 2)) await api.http().delete(`/admin/coupons/${code}`).set('X-Api-Key', keys.admin).expect(200);
    await expectPagedLike(keys.admin, '/admin/coupons', 'code', codes);
    await expectPagedLike(keys.admin, '/admin/coupons?active=true', 'code', codes.slice(2));
    await expectPagedLike(keys.admin, '/admin/coupons?active=false', 'code', codes.slice(0, 2));
    expect((await api.http().get('/admin/coupons?active=maybe').set('X-Api-Key', keys.admin)).status).toBe(400);
  });

  it('GET /admin/products and GET /products: archived products on request, paged both ways', async () => {
    const before = (await list(keys.admin, '/admin/products?limit=100')).data.map((p) => p.id as string);
    const made: string[] = [];
    for (let i = 0; i < 4; i++) made.push((await createProduct(api, keys.admin)).id);
    await api.http().delete(`/admin/products/${made[0]}`).set('X-Api-Key', keys.admin).expect(200);
    const live = [...before, ...made.slice(1)];
    await expectPagedLike(keys.admin, '/admin/products', 'id', live);
    await expectPagedLike(keys.admin, '/admin/products?includeArchived=true', 'id', [...live, made[0]]);
    await expectPagedLike(keys.publishable, '/products', 'id', live);
    expect((await api.http().get('/admin/products?includeArchived=yes').set('X-Api-Key', keys.admin)).status).toBe(400);
  });

  it('GET /admin/dead-letters: the merchant’s dead webhook events, paged both ways', async () => {
    const dead: string[] = [];
    for (let i = 0; i < 5; i++) {
      const stored = await deliverSimulatorEvent(
        api,
        'charge.refunded',
        { merchantId, reference: `pay_missing_${i}`, sessionId: null, chargeId: `ch_missing_${i}`, amount: 100, currency: 'USD' },
        (row) => row.status === 'dead',
      );
      dead.push((await api.db.query(`SELECT id FROM payment_webhook_events WHERE event_id = $1`, [stored.eventId])).rows[0].id);
    }
    await expectPagedLike(keys.admin, '/admin/dead-letters', 'id', dead);
  });
});
