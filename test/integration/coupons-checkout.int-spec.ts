import { PaymentJobs } from '../../src/payments/payment-jobs';
import {
  checkoutBody,
  createCheckout,
  createProduct,
  ledgerTotals,
  processBody,
  processPayment,
  uniqueEmail,
  runJob,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('coupons in checkout and direct payments (two instances)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;
  let giftCardProductId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl), startTestApp(dbUrl)]);
    pk = await a.key('publishable');
    sk = await a.key('secret');
    admin = await a.key('admin');
    productId = (
      await createProduct(a, admin, {
        prices: [
          { currency: 'USD', amount: 2999 },
          { currency: 'JPY', amount: 3333 },
        ],
      })
    ).id;
    giftCardProductId = (await createProduct(a, admin, { type: 'GIFT_CARD', prices: [{ currency: 'USD', amount: 5000 }] })).id;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const createCoupon = async (body: Record<string, unknown>) => {
    const res = await a.http().post('/admin/coupons').set('X-Api-Key', admin).send(body);
    expect(res.status).toBe(201);
    return res.body;
  };
  const coupon = async (code: string) => (await a.http().get(`/admin/coupons/${code}`).set('X-Api-Key', admin)).body;

  it('20 concurrent checkouts on two instances for a coupon with maxRedemptions 5: exactly 5 succeed', async () => {
    await createCoupon({ code: 'FIVE10', type: 'PERCENTAGE', percentOff: 10, maxRedemptions: 5 });
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createCheckout(i % 2 ? a : b, pk, checkoutBody(productId, { couponCode: 'five10' }))),
    );
    const created = responses.filter((r) => r.status === 201);
    expect(created).toHaveLength(5);
    for (const r of created) expect(r.body).toMatchObject({ subtotal: 5998, discount: 600, total: 5398 });
    for (const r of responses.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('coupon_exhausted');
    }
    expect((await a.db.query('SELECT count(*)::int AS n FROM checkout_sessions WHERE coupon_code = $1', ['FIVE10'])).rows[0].n).toBe(5);

    // An expired session gives its use back.
    await a.db.query(`UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [created[0].body.id]);
    await runJob(() => a.app.get(PaymentJobs).expireSessions());
    const again = await createCheckout(a, pk, checkoutBody(productId, { couponCode: 'FIVE10' }));
    expect(again.status).toBe(201);
  });

  it('a flat coupon on a direct payment: the discount is charged off, posted to the ledger, and redeemed', async () => {
    await createCoupon({ code: 'FLAT5', type: 'FLAT', amountOff: 500, currency: 'USD' });
    const res = await processPayment(
      a,
      sk,
      processBody(productId, 'tok_visa', {
        couponCode: 'FLAT5',
        items: [
          { productId, quantity: 1 },
          { productId: giftCardProductId, quantity: 1 },
        ],
      }),
    );
    expect(res.status).toBe(201);
    // The gift card line is never discounted.
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 2999 + 5000 - 500, discount: 500 });
    expect(res.body.lines.map((l: { discount: number }) => l.discount)).toEqual([500, 0]);
    const entries = await a.db.query('SELECT account, direction, amount FROM ledger_entries WHERE payment_id = $1 ORDER BY account', [
      res.body.id,
    ]);
    expect(entries.rows).toEqual([
      { account: 'discounts', direction: 'debit', amount: 500 },
      { account: 'gift_card_liability', direction: 'credit', amount: 5000 },
      { account: 'receivable:simulator', direction: 'debit', amount: 7499 },
      { account: 'sales', direction: 'credit', amount: 2999 },
    ]);
    expect((await coupon('FLAT5')).timesRedeemed).toBe(1);
    // The redemption names the payment's customer (a new one, created in the same transaction).
    const redemption = await a.db.query('SELECT customer_id, customer_email FROM coupon_redemptions WHERE payment_id = $1', [res.body.id]);
    expect(redemption.rows).toEqual([{ customer_id: res.body.customer.id, customer_email: res.body.customer.email }]);
    const totals = await ledgerTotals(a, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('a declined direct payment releases its coupon use; a zero-decimal currency rounds to whole yen', async () => {
    await createCoupon({ code: 'ONCE', type: 'PERCENTAGE', percentOff: 15, maxRedemptions: 1 });
    const declined = await processPayment(a, sk, processBody(productId, 'tok_chargeDeclined', { couponCode: 'ONCE' }));
    expect(declined.status).toBe(402);
    expect(await coupon('ONCE')).toMatchObject({ timesReserved: 0, timesRedeemed: 0 });
    const yen = await processPayment(
      b,
      sk,
      processBody(productId, 'tok_visa', { couponCode: 'ONCE', currency: 'JPY', customer: { email: uniqueEmail() } }),
    );
    expect(yen.status).toBe(201);
    // 15% of 3333 = 499.95, half up per line: 500
    expect(yen.body).toMatchObject({ currency: 'JPY', amount: 2833, discount: 500 });
    const exhausted = await processPayment(a, sk, processBody(productId, 'tok_visa', { couponCode: 'ONCE' }));
    expect(exhausted.status).toBe(422);
    expect(exhausted.body.error.code).toBe('coupon_exhausted');
    const yenTotals = await ledgerTotals(a, 'JPY');
    expect(yenTotals.debits).toBe(yenTotals.credits);
  });
});
