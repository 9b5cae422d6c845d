import { randomBytes } from 'node:crypto';
import { DEFAULT_MERCHANT_ID } from '../../src/auth/auth.types';
import { CouponError, CouponsService, ReservationTarget } from '../../src/coupons/coupons.service';
import type { RedemptionReference } from '../../src/coupons/coupons.types';
import { createProduct, eventually, uniqueEmail } from '../factories/payments';
import { awayFromMinuteEnd } from '../factories/clock';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

// Validation and checkout's reservations; admin CRUD and the cache are in coupons.int-spec.ts.
describe('coupons at checkout: validate and reservations (real PostgreSQL, two instances)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let pk: string;
  let shirt: string; // USD 29.99, BRL 149.90
  let mug: string; // USD 10.01
  let giftCard: string; // USD 50.00, GIFT_CARD

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // A long TTL, so only invalidation can explain a fresh read; validation limits out of the way.
    const env = { CACHE_TTL_SECONDS: '600', COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE: '10000', JOBS_ENABLED: 'false' };
    [a, b] = await Promise.all([startTestApp(dbUrl, env), startTestApp(dbUrl, env)]);
    [admin, pk] = await Promise.all([a.key('admin'), a.key('publishable')]);
    [shirt, mug, giftCard] = (
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
  const redeem = (app: TestApp, code: string, ref: RedemptionReference) =>
    app.db.transaction((tx) => service(app).redeem(tx, DEFAULT_MERCHANT_ID, code, ref));
  const release = (app: TestApp, code: string, ref: RedemptionReference) =>
    app.db.transaction((tx) => service(app).release(tx, DEFAULT_MERCHANT_ID, code, ref));
  const counters = async (code: string) => {
    const res = await a.http().get(`/admin/coupons/${code}`).set('X-Api-Key', admin).expect(200);
    return { reserved: res.body.timesReserved as number, redeemed: res.body.timesRedeemed as number };
  };

  describe('POST /coupons/validate', () => {
    it('prices the cart from the catalog and discounts per line, never the gift card', async () => {
      const { code } = await createCoupon({ code: uniqueCode('ten'), type: 'PERCENTAGE', percentOff: 15 });
      const items = [
        { productId: shirt, quantity: 2 },
        { productId: mug, quantity: 1 },
        { productId: giftCard, quantity: 1 },
      ];
      const res = await validate(a, ` ${code.toLowerCase()} `, items);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        code,
        currency: 'USD',
        subtotal: 5998 + 1001 + 5000,
        discount: 900 + 150,
        total: 5998 + 1001 + 5000 - 1050,
        lines: [
          { productId: shirt, quantity: 2, amount: 5998, discount: 900 },
          { productId: mug, quantity: 1, amount: 1001, discount: 150 },
          { productId: giftCard, quantity: 1, amount: 5000, discount: 0 },
        ],
      });

      const scopedFlat = await createCoupon({
        code: uniqueCode('flat'),
        type: 'FLAT',
        amountOff: 5000,
        currency: 'USD',
        productIds: [mug],
      });
      const capped = await validate(b, scopedFlat.code, items);
      expect(capped.body).toMatchObject({ discount: 1001, lines: [{ discount: 0 }, { discount: 1001 }, { discount: 0 }] });

      const brl = await validate(a, code, [{ productId: shirt, quantity: 3 }], 'BRL');
      expect(brl.body).toMatchObject({ currency: 'BRL', subtotal: 44970, discount: 6746 }); // 6745.5 → 6746

      const wrongKind = await a.http().post('/coupons/validate').set('X-Api-Key', admin).send({ code, items, currency: 'USD' });
      expect(wrongKind.status).toBe(403);
    });

    async function reason(code: string, items = [{ productId: shirt, quantity: 1 }], currency = 'USD') {
      const res = await validate(a, code, items, currency);
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'code' });
      return res.body.error.code as string;
    }

    it('answers 422 naming why a coupon cannot be used', async () => {
      const day = 24 * 3600 * 1000;
      const iso = (offset: number) => new Date(Date.now() + offset).toISOString();
      expect(await reason('NOPE-NOT-A-CODE')).toBe('coupon_not_found');
      expect(await reason('?!')).toBe('coupon_not_found');

      const expired = await createCoupon({
        code: uniqueCode('old'),
        type: 'PERCENTAGE',
        percentOff: 10,
        startsAt: iso(-2 * day),
        expiresAt: iso(-day),
      });
      expect(await reason(expired.code)).toBe('coupon_expired');
      const future = await createCoupon({ code: uniqueCode('soon'), type: 'PERCENTAGE', percentOff: 10, startsAt: iso(day) });
      expect(await reason(future.code)).toBe('coupon_expired');
      const deactivated = await createCoupon({ code: uniqueCode('off'), type: 'PERCENTAGE', percentOff: 10 });
      await a.http().delete(`/admin/coupons/${deactivated.code}`).set('X-Api-Key', admin).expect(200);
      expect(await reason(deactivated.code)).toBe('coupon_expired');

      const once = await createCoupon({ code: uniqueCode('once'), type: 'PERCENTAGE', percentOff: 10, maxRedemptions: 1 });
      expect((await validate(a, once.code, [{ productId: shirt, quantity: 1 }])).status).toBe(200); // now cached
      await reserve(b, once.code, { sessionId: 'cs_once', customerEmail: uniqueEmail() });
      // The reservation on B drops A's cached copy (NOTIFY on commit).
      await eventually(async () => (await validate(a, once.code, [{ productId: shirt, quantity: 1 }])).status === 422, 1000);
      expect(await reason(once.code)).toBe('coupon_exhausted');

      const mugOnly = await createCoupon({ code: uniqueCode('mug'), type: 'PERCENTAGE', percentOff: 10, productIds: [mug] });
      expect(await reason(mugOnly.code)).toBe('coupon_not_applicable');
      const euros = await createCoupon({ code: uniqueCode('eur'), type: 'FLAT', amountOff: 500, currency: 'EUR' });
      expect(await reason(euros.code)).toBe('coupon_not_applicable');
      const anything = await createCoupon({ code: uniqueCode('any'), type: 'PERCENTAGE', percentOff: 10 });
      expect(await reason(anything.code, [{ productId: giftCard, quantity: 2 }])).toBe('coupon_not_applicable');
    });

    it('throttles guessing: its own, stricter limit per key and address (COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE)', async () => {
      // The default limit (20 per minute per key and address), as a guesser would meet it.
      const strict = await startTestApp(dbUrl, { JOBS_ENABLED: 'false' });
      try {
        const guesser = await strict.key('publishable');
        await awayFromMinuteEnd(strict, 2);
        const guesses = await Promise.all(
          Array.from({ length: 200 }, () =>
            strict
              .http()
              .post('/coupons/validate')
              .set('X-Api-Key', guesser)
              .send({ code: randomBytes(5).toString('hex'), items: [{ productId: shirt, quantity: 1 }], currency: 'USD' }),
          ),
        );
        const statuses = guesses.map((r) => r.status);
        expect(statuses.filter((s) => s === 422)).toHaveLength(20);
        expect(statuses.filter((s) => s === 429)).toHaveLength(180);
        const throttled = guesses.find((r) => r.status === 429);
        expect(throttled?.body.error).toMatchObject({ type: 'rate_limit_error' });
        expect(Number(throttled?.headers['retry-after'])).toBeGreaterThan(0);
        // The same key keeps its general budget on other routes.
        expect((await strict.http().get(`/products/${shirt}`).set('X-Api-Key', guesser)).status).toBe(200);
      } finally {
        await strict.close();
      }
    });

    it('answers 4xx, never 500, for a bad cart', async () => {
      const { code } = await createCoupon({ code: uniqueCode('cart'), type: 'PERCENTAGE', percentOff: 10 });
      const unknown = await validate(a, code, [{ productId: 'prod_missing', quantity: 1 }]);
      expect([unknown.status, unknown.body.error.code, unknown.body.error.param]).toEqual([
        422,
        'product_unavailable',
        'items[0].productId',
      ]);
      const noPrice = await validate(a, code, [{ productId: mug, quantity: 1 }], 'JPY');
      expect([noPrice.status, noPrice.body.error.code]).toEqual([422, 'price_unavailable']);
      const zero = await validate(a, code, [{ productId: shirt, quantity: 0 }]);
      expect([zero.status, zero.body.error.param]).toEqual([400, 'items[0].quantity']);
      const noItems = await a.http().post('/coupons/validate').set('X-Api-Key', pk).send({ code, currency: 'USD' });
      expect([noItems.status, noItems.body.error.param]).toEqual([400, 'items']);
    });
  });

  describe('reservations (the service checkout uses)', () => {
    it('holds maxRedemptions under 20 concurrent reservations on two instances; release frees a use; redeem counts', async () => {
      const { code } = await createCoupon({ code: uniqueCode('five'), type: 'FLAT', amountOff: 500, currency: 'USD', maxRedemptions: 5 });
      const sessions = Array.from({ length: 20 }, (_, i) => `cs_race_${code}_${i}`);
      const outcomes = await Promise.allSettled(
        sessions.map((sessionId, i) => reserve(i % 2 === 0 ? a : b, code.toLowerCase(), { sessionId, customerEmail: uniqueEmail() })),
      );
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [sessions[i]] : []));
      const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
      expect(won).toHaveLength(5);
      expect(refusals).toHaveLength(15);
      for (const err of refusals) expect(err).toBeInstanceOf(CouponError);
      expect(new Set(refusals.map((e: CouponError) => e.code))).toEqual(new Set(['coupon_exhausted']));
      expect(await counters(code)).toEqual({ reserved: 5, redeemed: 0 });
      const { rows } = await a.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM coupon_redemptions WHERE coupon_code = $1 AND status = 'reserved'`,
        [code],
      );
      expect(rows[0].n).toBe(5);
      expect((await validate(b, code, [{ productId: shirt, quantity: 1 }])).body.error.code).toBe('coupon_exhausted');

      // A second reserve for a session that holds one changes nothing.
      const again = await reserve(b, code, { sessionId: won[0], customerEmail: uniqueEmail() });
      expect(again).toMatchObject({ checkoutSessionId: won[0], status: 'reserved' });
      expect(await counters(code)).toEqual({ reserved: 5, redeemed: 0 });

      // Release frees one use, once.
      expect((await release(a, code, { sessionId: won[0] }))?.status).toBe('released');
      expect((await release(b, code, { sessionId: won[0] }))?.status).toBe('released');
      expect(await counters(code)).toEqual({ reserved: 4, redeemed: 0 });
      await eventually(async () => (await validate(b, code, [{ productId: shirt, quantity: 1 }])).status === 200, 1000);
      await reserve(b, code, { paymentId: `pay_late_${code}`, customerEmail: uniqueEmail() });
      await expect(reserve(a, code, { paymentId: `pay_extra_${code}`, customerEmail: uniqueEmail() })).rejects.toMatchObject({
        code: 'coupon_exhausted',
      });

      // Redeem counts, once, and records the payment; a redeemed use is never released.
      const redeemed = await redeem(a, code, { sessionId: won[1], paymentId: 'pay_won_1' });
      expect(redeemed).toMatchObject({ status: 'redeemed', checkoutSessionId: won[1], paymentId: 'pay_won_1' });
      expect((await redeem(b, code, { sessionId: won[1] }))?.status).toBe('redeemed');
      expect((await release(b, code, { sessionId: won[1] }))?.status).toBe('redeemed');
      expect(await counters(code)).toEqual({ reserved: 4, redeemed: 1 });
      expect(await redeem(a, code, { sessionId: 'cs_never_reserved' })).toBeNull();

      // Money that arrives for a session released meanwhile still counts as a redemption.
      await release(a, code, { sessionId: won[2] });
      expect((await redeem(b, code, { sessionId: won[2] }))?.status).toBe('redeemed');
      expect(await counters(code)).toEqual({ reserved: 3, redeemed: 2 });
    });

    it('holds perCustomerLimit under concurrency and leaves nothing behind when it refuses', async () => {
      const { code } = await createCoupon({ code: uniqueCode('percust'), type: 'PERCENTAGE', percentOff: 10, perCustomerLimit: 2 });
      const email = uniqueEmail();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          reserve(i % 2 === 0 ? a : b, code, { sessionId: `cs_cust_${code}_${i}`, customerEmail: email.toUpperCase() }),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'coupon_exhausted' });
      expect(await counters(code)).toEqual({ reserved: 2, redeemed: 0 });

      const lines = [{ productId: shirt, amount: 2999, productType: 'STANDARD' as const }];
      await expect(service(b).quote(DEFAULT_MERCHANT_ID, code, lines, 'USD', email)).rejects.toMatchObject({ code: 'coupon_exhausted' });
      expect(await service(b).quote(DEFAULT_MERCHANT_ID, code, lines, 'USD', uniqueEmail())).toMatchObject({
        code,
        subtotal: 2999,
        discount: 300,
        total: 2699,
        lineDiscounts: [300],
      });

      // A refusal inside the caller's transaction changes nothing there: the caller can carry on and commit.
      const carriedOn = await a.db.transaction(async (tx) => {
        const refused = await service(a)
          .reserve(tx, DEFAULT_MERCHANT_ID, code, { sessionId: `cs_cust_${code}_x`, customerEmail: email })
          .catch((err: unknown) => err);
        const { rows } = await tx.query<{ ok: number }>('SELECT 1 AS ok');
        return { refused, ok: rows[0].ok };
      });
      expect(carriedOn.refused).toMatchObject({ code: 'coupon_exhausted' });
      expect(carriedOn.ok).toBe(1);
      expect(await counters(code)).toEqual({ reserved: 2, redeemed: 0 });
    });
  });
});
