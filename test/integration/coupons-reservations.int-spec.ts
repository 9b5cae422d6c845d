import { randomBytes } from 'node:crypto';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment, processBody, processPayment } from '../factories/payments';
import { awayFromMinuteEnd } from '../factories/clock';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/**
 * A coupon use held by an unpaid checkout frees itself after COUPON_RESERVATION_MINUTES, and codes tried
 * through checkout and process count against the guessing limit of /coupons/validate. Time is moved by
 * making reservations older in the database, never by waiting.
 */
describe('coupon reservations expire and coupon guessing is limited on every route', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;
  const GUESS_LIMIT = 5;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE: String(GUESS_LIMIT), COUPON_RESERVATION_MINUTES: '30' });
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const createCoupon = async (body: Record<string, unknown>) => {
    const res = await api.http().post('/admin/coupons').set('X-Api-Key', admin).send(body);
    expect(res.status).toBe(201);
    return res.body;
  };
  const coupon = async (code: string) => (await api.http().get(`/admin/coupons/${code}`).set('X-Api-Key', admin)).body;
  /** Test-only: the reservations of a coupon were taken `minutes` earlier than they were. */
  const ageReservations = (code: string, minutes: number, sessionId?: string) =>
    api.db.query(
      `UPDATE coupon_redemptions
          SET reserved_at = reserved_at - make_interval(mins => $2)
        WHERE coupon_code = $1
          AND status = 'reserved'
          AND ($3::text IS NULL OR checkout_session_id = $3)`,
      [code, minutes, sessionId ?? null],
    );
  const payOnHostedPage = async (session: { id: string; url: string }) => {
    const paid = await fetch(`${session.url}/pay`, { method: 'POST', redirect: 'manual' });
    expect(paid.status).toBe(303);
    return eventually(async () => {
      const s = (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', pk)).body;
      return s.status === 'complete' ? s : undefined;
    });
  };

  it('unpaid checkouts hold a use only for COUPON_RESERVATION_MINUTES: then a new checkout can use the coupon', async () => {
    await createCoupon({ code: 'HOLD2', type: 'PERCENTAGE', percentOff: 10, maxRedemptions: 2 });
    const opened = await Promise.all(
      Array.from({ length: 4 }, () => createCheckout(api, pk, checkoutBody(productId, { couponCode: 'HOLD2' }))),
    );
    expect(opened.map((r) => r.status).sort()).toEqual([201, 201, 422, 422]);
    const refused = await createCheckout(api, pk, checkoutBody(productId, { couponCode: 'HOLD2' }));
    expect([refused.status, refused.body.error.code]).toEqual([422, 'coupon_exhausted']);

    // Still inside the reservation time: still exhausted.
    await ageReservations('HOLD2', 29);
    expect((await createCheckout(api, pk, checkoutBody(productId, { couponCode: 'HOLD2' }))).status).toBe(422);

    // Past it: the two unpaid checkouts no longer hold their uses, and two new ones get them.
    await ageReservations('HOLD2', 2);
    expect(await coupon('HOLD2')).toMatchObject({ timesReserved: 0, timesRedeemed: 0 });
    const again = await Promise.all(
      Array.from({ length: 3 }, () => createCheckout(api, pk, checkoutBody(productId, { couponCode: 'HOLD2' }))),
    );
    expect(again.map((r) => r.status).sort()).toEqual([201, 201, 422]);
    for (const r of again.filter((x) => x.status === 201)) expect(r.body).toMatchObject({ subtotal: 5998, discount: 600, total: 5398 });
    expect((await coupon('HOLD2')).timesReserved).toBe(2);
  });

  it('a customer whose reservation expired still pays the discount shown, and the redemption is recorded past the limit', async () => {
    await createCoupon({ code: 'LATE1', type: 'PERCENTAGE', percentOff: 10, maxRedemptions: 1 });
    const late = await createCheckout(api, pk, checkoutBody(productId, { couponCode: 'LATE1' }));
    expect(late.status).toBe(201);
    expect(late.body).toMatchObject({ discount: 600, total: 5398 });
    await ageReservations('LATE1', 31, late.body.id);
    const other = await createCheckout(api, pk, checkoutBody(productId, { couponCode: 'LATE1' }));
    expect(other.status).toBe(201);

    const completed = await payOnHostedPage(late.body);
    expect(await getPayment(api, sk, completed.paymentId)).toMatchObject({ status: 'succeeded', amount: 5398, discount: 600 });
    const redemption = await api.db.query('SELECT status, payment_id, discount FROM coupon_redemptions WHERE checkout_session_id = $1', [
      late.body.id,
    ]);
    expect(redemption.rows).toEqual([{ status: 'redeemed', payment_id: completed.paymentId, discount: 600 }]);

    // The one that took the freed use pays too: two redemptions of a coupon limited to one.
    await payOnHostedPage(other.body);
    expect(await coupon('LATE1')).toMatchObject({ timesRedeemed: 2, timesReserved: 0, maxRedemptions: 1 });
  });

  describe('guessing limit shared with /coupons/validate', () => {
    const guess = () => `NOPE${randomBytes(5).toString('hex')}`;
    const validate = (key: string, code: string) =>
      api
        .http()
        .post('/coupons/validate')
        .set('X-Api-Key', key)
        .send({ code, items: [{ productId, quantity: 1 }], currency: 'USD' });

    it('unknown codes through checkout and process spend it: then checkout, process and validate are refused', async () => {
      await createCoupon({ code: 'REAL10', type: 'PERCENTAGE', percentOff: 10 });
      const key = await api.key('publishable');
      await awayFromMinuteEnd(api);
      const tries = [];
      for (let i = 0; i < GUESS_LIMIT; i++) {
        tries.push(
          i % 2
            ? await processPayment(api, key, processBody(productId, 'tok_visa', { couponCode: guess() }))
            : await createCheckout(api, key, checkoutBody(productId, { couponCode: guess() })),
        );
      }
      expect(tries.map((r) => [r.status, r.body.error?.code])).toEqual(Array(GUESS_LIMIT).fill([422, 'coupon_not_found']));

      const over = await createCheckout(api, key, checkoutBody(productId, { couponCode: guess() }));
      expect([over.status, over.body.error.type, over.body.error.code]).toEqual([429, 'rate_limit_error', 'rate_limited']);
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      // A known code is refused too, so a refusal does not tell which codes exist.
      expect((await processPayment(api, key, processBody(productId, 'tok_visa', { couponCode: 'REAL10' }))).status).toBe(429);
      const validated = await validate(key, 'REAL10');
      expect([validated.status, validated.body.error.code]).toEqual([429, 'rate_limited']);
      // Without a coupon code, the key keeps its general budget.
      expect((await createCheckout(api, key, checkoutBody(productId))).status).toBe(201);
    });

    it('validate spends it: then an unknown or known code through checkout or process is refused', async () => {
      await createCoupon({ code: 'REAL20', type: 'PERCENTAGE', percentOff: 20 });
      const key = await api.key('publishable');
      await awayFromMinuteEnd(api);
      for (let i = 0; i < GUESS_LIMIT; i++) expect((await validate(key, guess())).status).toBe(422);
      const viaCheckout = await createCheckout(api, key, checkoutBody(productId, { couponCode: guess() }));
      expect([viaCheckout.status, viaCheckout.body.error.code]).toEqual([429, 'rate_limited']);
      const viaProcess = await processPayment(api, key, processBody(productId, 'tok_visa', { couponCode: 'REAL20' }));
      expect([viaProcess.status, viaProcess.body.error.code]).toEqual([429, 'rate_limited']);
      // No payment was recorded for the refused request.
      const { rows } = await api.db.query(`SELECT count(*)::int AS n FROM payments WHERE coupon_code = 'REAL20'`);
      expect(rows[0].n).toBe(0);
    });
  });
});
