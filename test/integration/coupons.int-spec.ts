import { randomBytes } from 'node:crypto';
import { DEFAULT_MERCHANT_ID } from '../../src/auth/auth.types';
import { CouponsService, ReservationTarget } from '../../src/coupons/coupons.service';
import { createProduct, eventually, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

// Admin CRUD and the cache across instances; validation and reservations are in coupons-checkout.int-spec.ts.
describe('coupons (real PostgreSQL, two instances)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let pk: string;
  let shirt: string; // USD 29.99, BRL 149.90

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // A long TTL, so only invalidation can explain a fresh read; validation limits out of the way.
    const env = { CACHE_TTL_SECONDS: '600', COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE: '10000', JOBS_ENABLED: 'false' };
    [a, b] = await Promise.all([startTestApp(dbUrl, env), startTestApp(dbUrl, env)]);
    [admin, pk] = await Promise.all([a.key('admin'), a.key('publishable')]);
    [shirt] = (
      await Promise.all([
        createProduct(a, admin, { name: 'Shirt' }),
        createProduct(a, admin, { name: 'Mug', prices: [{ currency: 'USD', amount: 1001 }] }),
        createProduct(a, admin, { name: 'Gift card', type: 'GIFT_CARD', prices: [{ currency: 'USD', amount: 5000 }] }),
      ])
    ).map((p) => p.id);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const uniqueCode = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`.toUpperCase();

  async function createCoupon(body: Record<string, unknown>): Promise<{ code: string }> {
    const res = await a.http().post('/admin/coupons').set('X-Api-Key', admin).send(body);
    if (res.status !== 201) throw new Error(`coupon create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  const validate = (app: TestApp, code: string, items: Array<{ productId: string; quantity: number }>, currency = 'USD') =>
    app.http().post('/coupons/validate').set('X-Api-Key', pk).send({ code, items, currency });

  const service = (app: TestApp) => app.app.get(CouponsService);
  const reserve = (app: TestApp, code: string, target: ReservationTarget) =>
    app.db.transaction((tx) => service(app).reserve(tx, DEFAULT_MERCHANT_ID, code, target));

  describe('admin CRUD', () => {
    it('creates a coupon under its upper-case code, finds it in any case, refuses the same code again with 409', async () => {
      const code = uniqueCode('summer');
      const created = await a
        .http()
        .post('/admin/coupons')
        .set('X-Api-Key', admin)
        .send({ code: code.toLowerCase(), type: 'PERCENTAGE', percentOff: 20, productIds: [shirt, shirt], maxRedemptions: 100 });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        code,
        type: 'PERCENTAGE',
        percentOff: 20,
        amountOff: null,
        currency: null,
        productIds: [shirt],
        maxRedemptions: 100,
        perCustomerLimit: null,
        active: true,
        timesReserved: 0,
        timesRedeemed: 0,
      });

      const mixedCase = code.slice(0, 3).toLowerCase() + code.slice(3);
      expect((await a.http().get(`/admin/coupons/${mixedCase}`).set('X-Api-Key', admin)).body.code).toBe(code);

      const duplicate = await a
        .http()
        .post('/admin/coupons')
        .set('X-Api-Key', admin)
        .send({ code: mixedCase, type: 'FLAT', amountOff: 500, currency: 'USD' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_already_exists', param: 'code' });

      const patched = await a
        .http()
        .patch(`/admin/coupons/${code.toLowerCase()}`)
        .set('X-Api-Key', admin)
        .send({ type: 'FLAT', amountOff: 700, currency: 'USD', maxRedemptions: null, expiresAt: '2099-01-01T00:00:00Z' });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ code, type: 'FLAT', amountOff: 700, currency: 'USD', percentOff: null, maxRedemptions: null });
      expect(patched.body.expiresAt).toBe('2099-01-01T00:00:00.000Z');

      const deleted = await a.http().delete(`/admin/coupons/${code}`).set('X-Api-Key', admin);
      expect(deleted.status).toBe(200);
      expect(deleted.body.active).toBe(false);
      const inactive = await a.http().get('/admin/coupons?active=false&limit=100').set('X-Api-Key', admin);
      expect(inactive.body.data.map((c: { code: string }) => c.code)).toContain(code);
      const active = await a.http().get('/admin/coupons?active=true&limit=100').set('X-Api-Key', admin);
      expect(active.body.data.map((c: { code: string }) => c.code)).not.toContain(code);

      expect((await a.http().get('/admin/coupons/NO-SUCH-CODE').set('X-Api-Key', admin)).status).toBe(404);
      expect((await a.http().patch('/admin/coupons/NO-SUCH-CODE').set('X-Api-Key', admin).send({ active: false })).status).toBe(404);
      expect((await a.http().get('/admin/coupons').set('X-Api-Key', pk)).status).toBe(403);
    });

    it('paginates by page and by cursor', async () => {
      for (let i = 0; i < 3; i++) await createCoupon({ code: uniqueCode('page'), type: 'PERCENTAGE', percentOff: 5 });
      const first = await a.http().get('/admin/coupons?limit=2&page=1').set('X-Api-Key', admin);
      expect(first.body).toMatchObject({ hasMore: true, page: 1 });
      expect(first.body.total).toBeGreaterThanOrEqual(3);
      const next = await a
        .http()
        .get(`/admin/coupons?limit=2&startingAfter=${first.body.data[1].code.toLowerCase()}`)
        .set('X-Api-Key', admin);
      const page2 = await a.http().get('/admin/coupons?limit=2&page=2').set('X-Api-Key', admin);
      expect(next.body.data.map((c: { code: string }) => c.code)).toEqual(page2.body.data.map((c: { code: string }) => c.code));
    });

    it.each([
      ['FLAT without currency', { type: 'FLAT', amountOff: 500 }, 'currency'],
      ['FLAT without amountOff', { type: 'FLAT', currency: 'USD' }, 'amountOff'],
      ['FLAT with percentOff too', { type: 'FLAT', amountOff: 500, currency: 'USD', percentOff: 10 }, 'percentOff'],
      ['PERCENTAGE over 100', { type: 'PERCENTAGE', percentOff: 150 }, 'percentOff'],
      ['PERCENTAGE not an integer', { type: 'PERCENTAGE', percentOff: 12.5 }, 'percentOff'],
      ['PERCENTAGE with amountOff too', { type: 'PERCENTAGE', percentOff: 10, amountOff: 500 }, 'amountOff'],
      ['PERCENTAGE with a currency', { type: 'PERCENTAGE', percentOff: 10, currency: 'USD' }, 'currency'],
      ['an unknown type', { type: 'BOGO', percentOff: 10 }, 'type'],
      [
        'expiresAt before startsAt',
        { type: 'PERCENTAGE', percentOff: 10, startsAt: '2030-02-01T00:00:00Z', expiresAt: '2030-01-01T00:00:00Z' },
        'expiresAt',
      ],
      ['a date that is not ISO 8601', { type: 'PERCENTAGE', percentOff: 10, startsAt: 'tomorrow' }, 'startsAt'],
      ['an unknown product', { type: 'PERCENTAGE', percentOff: 10, productIds: ['prod_missing'] }, 'productIds[0]'],
      ['a lower-case currency', { type: 'FLAT', amountOff: 500, currency: 'usd' }, 'currency'],
      ['maxRedemptions 0', { type: 'PERCENTAGE', percentOff: 10, maxRedemptions: 0 }, 'maxRedemptions'],
    ])('answers 400 naming the field for %s', async (_, body, param) => {
      const res = await a
        .http()
        .post('/admin/coupons')
        .set('X-Api-Key', admin)
        .send({ code: uniqueCode('bad'), ...body });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
    });

    it('answers 400 for a malformed code, a code in a PATCH, and a maxRedemptions below the uses already taken', async () => {
      for (const code of ['a b', 'ab', 'ÄPFEL10', '-LEAD', 'x'.repeat(65)]) {
        const res = await a.http().post('/admin/coupons').set('X-Api-Key', admin).send({ code, type: 'PERCENTAGE', percentOff: 10 });
        expect([res.status, res.body.error.param]).toEqual([400, 'code']);
      }
      const { code } = await createCoupon({ code: uniqueCode('limit'), type: 'PERCENTAGE', percentOff: 10, maxRedemptions: 5 });
      const rename = await a.http().patch(`/admin/coupons/${code}`).set('X-Api-Key', admin).send({ code: 'OTHER' });
      expect([rename.status, rename.body.error.code]).toEqual([400, 'parameter_unknown']);
      await reserve(a, code, { sessionId: 'cs_lim_1', customerEmail: uniqueEmail() });
      await reserve(a, code, { sessionId: 'cs_lim_2', customerEmail: uniqueEmail() });
      const below = await a.http().patch(`/admin/coupons/${code}`).set('X-Api-Key', admin).send({ maxRedemptions: 1 });
      expect([below.status, below.body.error.param]).toEqual([400, 'maxRedemptions']);
      const toFlat = await a.http().patch(`/admin/coupons/${code}`).set('X-Api-Key', admin).send({ type: 'FLAT' });
      expect([toFlat.status, toFlat.body.error.param]).toEqual([400, 'amountOff']);
    });
  });

  describe('the coupon cache across instances', () => {
    const items = () => [{ productId: shirt, quantity: 1 }];
    const discountOnB = async (code: string) => {
      const res = await validate(b, code, items());
      return res.status === 200 ? (res.body.discount as number) : (res.body.error.code as string);
    };

    it('shows an admin change made on one instance on the other within 1 s', async () => {
      const { code } = await createCoupon({ code: uniqueCode('cache'), type: 'PERCENTAGE', percentOff: 10 });
      expect(await discountOnB(code)).toBe(300); // cached on B for 10 minutes
      await a.http().patch(`/admin/coupons/${code}`).set('X-Api-Key', admin).send({ percentOff: 20 }).expect(200);
      await eventually(async () => (await discountOnB(code)) === 600, 1000);
      await a.http().delete(`/admin/coupons/${code}`).set('X-Api-Key', admin).expect(200);
      await eventually(async () => (await discountOnB(code)) === 'coupon_expired', 1000);
    });

    it('drops every instance cache on POST /admin/cache/invalidate?entity=coupons', async () => {
      // Created and changed behind the application's back: no notification of the creation can reach B
      // after its first read and drop its cache by chance; only the invalidation makes B see the change.
      const code = uniqueCode('sql');
      await a.db.query(`INSERT INTO coupons (merchant_id, code, type, percent_off) VALUES ('mer_default', $1, 'PERCENTAGE', 10)`, [code]);
      expect(await discountOnB(code)).toBe(300);
      await a.db.query(`UPDATE coupons SET percent_off = 50 WHERE code = $1`, [code]);
      expect(await discountOnB(code)).toBe(300);
      await a.http().post('/admin/cache/invalidate?entity=coupons').set('X-Api-Key', admin).expect(200);
      await eventually(async () => (await discountOnB(code)) === 1500, 1000);
    });
  });
});
