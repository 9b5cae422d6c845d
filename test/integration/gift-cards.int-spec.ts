import { GiftCardExpiryJob } from '../../src/gift-cards/gift-card-expiry.job';
import { GiftCardsService } from '../../src/gift-cards/gift-cards.service';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { activeGiftCard, checkoutWithGiftCard, purchaseGiftCard } from '../factories/gift-cards';
import {
  createProduct,
  eventually,
  ledgerTotals,
  newKey,
  processPayment,
  refundPayment,
  uniqueEmail,
  runJob,
  getPayment,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('gift cards (real PostgreSQL, simulator hosted page)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let pk: string;
  let sk: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl), startTestApp(dbUrl)]);
    pk = await a.key('publishable');
    sk = await a.key('secret');
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const purchase = (body: Record<string, unknown>) => purchaseGiftCard(a, pk, body);
  const balance = async (code: string) => (await a.http().get(`/gift-cards/${code}/balance`).set('X-Api-Key', pk)).body;

  const buyAndPay = (amount: number) => activeGiftCard(a, pk, amount);

  it('purchase → pay on the hosted page → active → redeem once', async () => {
    const bought = await purchase({ amount: 5000, currency: 'USD' });
    expect(bought.status).toBe(201);
    const { checkoutSession, giftCard } = bought.body;
    expect(giftCard).toMatchObject({
      status: 'pending',
      id: expect.stringMatching(/^gc_/),
      code: expect.stringMatching(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/),
    });
    expect(checkoutSession).toMatchObject({ status: 'open', total: 5000, currency: 'USD' });
    expect(checkoutSession.lines[0]).toMatchObject({ productType: 'GIFT_CARD', amount: 5000 });

    // Not usable before payment.
    const early = await a
      .http()
      .post(`/gift-cards/${giftCard.code}/use`)
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', newKey())
      .send({ amount: 100, currency: 'USD', reference: 'order-0' });
    expect(early.status).toBe(422);
    expect(early.body.error.code).toBe('gift_card_not_active');

    await fetch(`${checkoutSession.url}/pay`, { method: 'POST', redirect: 'manual' });
    const active = await eventually(async () => {
      const res = await a.http().get(`/gift-cards/${giftCard.code}`).set('X-Api-Key', sk);
      return res.body.status === 'active' ? res.body : undefined;
    });
    expect(active).toMatchObject({
      balance: 5000,
      initialAmount: 5000,
      votes: 500,
      recipientEmail: 'friend@example.com',
      giftMessage: 'Happy birthday!',
    });
    expect(new Date(active.expiresAt).getTime() - Date.now()).toBeGreaterThan(364 * 24 * 3600 * 1000);
    const activated = await a.db.query(`SELECT payload FROM outbox_events WHERE type = 'gift_card.activated' AND aggregate_id = $1`, [
      giftCard.id,
    ]);
    expect(activated.rows[0].payload.data).toMatchObject({ code: giftCard.code, recipientEmail: 'friend@example.com', amount: 5000 });

    // The purchase is a liability, not a sale.
    const liability = await a
      .http()
      .get('/admin/ledger/balance?currency=USD')
      .set('X-Api-Key', await a.key('admin'));
    expect(liability.body.accounts).toEqual(
      expect.arrayContaining([expect.objectContaining({ account: 'gift_card_liability', credits: 5000 })]),
    );

    const redeemed = await a
      .http()
      .post('/gift-cards/redeem')
      .set('X-Api-Key', pk)
      .set('Idempotency-Key', newKey())
      .send({ code: giftCard.code.toLowerCase(), userId: 'user-42' });
    expect(redeemed.status).toBe(200);
    expect(redeemed.body).toMatchObject({ redeemed: true, balance: 5000 });
    const again = await b
      .http()
      .post('/gift-cards/redeem')
      .set('X-Api-Key', pk)
      .set('Idempotency-Key', newKey())
      .send({ code: giftCard.code, userId: 'user-43' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('gift_card_already_redeemed');
  });

  it('10 concurrent uses of 1000 on a 5000 card across two instances: exactly 5 succeed, balance 0', async () => {
    const code = await buyAndPay(5000);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b)
          .http()
          .post(`/gift-cards/${code}/use`)
          .set('X-Api-Key', sk)
          .set('Idempotency-Key', newKey())
          .send({ amount: 1000, currency: 'USD', reference: `order-${i}` }),
      ),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(5);
    for (const refused of responses.filter((r) => r.status !== 200)) {
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('insufficient_balance');
    }
    expect((await balance(code)).balance).toBe(0);
    const totals = await ledgerTotals(a, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('refuses a use in another currency, replays a used key, and buys catalog gift-card products', async () => {
    const code = await buyAndPay(2000);
    const wrong = await a
      .http()
      .post(`/gift-cards/${code}/use`)
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', newKey())
      .send({ amount: 100, currency: 'BRL', reference: 'x' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe('currency_mismatch');
    const key = newKey();
    const first = await a
      .http()
      .post(`/gift-cards/${code}/use`)
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', key)
      .send({ amount: 500, currency: 'USD', reference: 'y' });
    const replay = await b
      .http()
      .post(`/gift-cards/${code}/use`)
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', key)
      .send({ amount: 500, currency: 'USD', reference: 'y' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect((await balance(code)).balance).toBe(1500);

    const product = await createProduct(a, await a.key('admin'), { type: 'GIFT_CARD', prices: [{ currency: 'BRL', amount: 10000 }] });
    const bought = await purchase({ productId: product.id });
    expect(bought.status).toBe(201);
    expect(bought.body.checkoutSession).toMatchObject({ currency: 'BRL', total: 10000 });
    const notGift = await createProduct(a, await a.key('admin'));
    expect((await purchase({ productId: notGift.id, currency: 'USD' })).status).toBe(422);
    expect((await purchase({})).status).toBe(400);
  });

  it('expires a card past its date: the rest of the balance is breakage', async () => {
    const code = await buyAndPay(3000);
    await a.db.query(`UPDATE gift_cards SET expires_at = now() - interval '1 second' WHERE code = $1`, [code]);
    expect(await runJob(() => a.app.get(GiftCardExpiryJob).run())).toBeGreaterThanOrEqual(1);
    expect(await balance(code)).toMatchObject({ status: 'expired', balance: 0 });
    const ledger = await a
      .http()
      .get('/admin/ledger/balance?currency=USD')
      .set('X-Api-Key', await a.key('admin'));
    expect(ledger.body.balanced).toBe(true);
    expect(ledger.body.accounts).toEqual(
      expect.arrayContaining([expect.objectContaining({ account: 'gift_card_breakage', credits: 3000 })]),
    );
  });

  it('expires every card due, batch after batch', async () => {
    const codes = [await buyAndPay(1000), await buyAndPay(1000), await buyAndPay(1000)];
    await a.db.query(`UPDATE gift_cards SET expires_at = now() - interval '1 second' WHERE code = ANY($1)`, [codes]);
    expect(await a.app.get(GiftCardsService).expireDue(1)).toBeGreaterThanOrEqual(3);
    for (const code of codes) expect(await balance(code)).toMatchObject({ status: 'expired', balance: 0 });
  });

  describe('paying with a gift card', () => {
    let productId: string;
    beforeAll(async () => {
      productId = (await createProduct(a, await a.key('admin'), { prices: [{ currency: 'USD', amount: 8000 }] })).id;
    });
    const process = (body: Record<string, unknown>) =>
      processPayment(a, sk, {
        items: [{ productId, quantity: 1 }],
        currency: 'USD',
        customer: { email: uniqueEmail() },
        ...body,
      });

    it('pays partly with the card and partly with a token; a refund returns the card part to the card', async () => {
      const code = await buyAndPay(5000);
      const paid = await process({ giftCardCode: code, paymentMethod: { provider: 'simulator', token: 'tok_visa' } });
      expect(paid.status).toBe(201);
      expect(paid.body).toMatchObject({ status: 'succeeded', amount: 8000, giftCardAmount: 5000 });
      expect((await balance(code)).balance).toBe(0);
      const charged = await a.db.query('SELECT amount FROM simulator_charges WHERE reference = $1', [paid.body.id]);
      expect(charged.rows).toEqual([{ amount: 3000 }]);

      // 4000: the provider's 3000 first, then 1000 back to the card.
      const admin = await a.key('admin');
      const refund = await refundPayment(a, admin, paid.body.id, { amount: 4000 });
      expect(refund.status).toBe(201);
      expect(refund.body).toMatchObject({ amount: 4000, giftCardAmount: 1000, status: 'succeeded' });
      expect((await balance(code)).balance).toBe(1000);
      expect(
        (await a.db.query('SELECT amount_refunded FROM simulator_charges WHERE reference = $1', [paid.body.id])).rows[0].amount_refunded,
      ).toBe(3000);
      // The rest goes back to the card only.
      const rest = await refundPayment(a, admin, paid.body.id);
      expect(rest.body).toMatchObject({ amount: 4000, giftCardAmount: 4000 });
      expect((await balance(code)).balance).toBe(5000);
      const totals = await ledgerTotals(a, 'USD');
      expect(totals.debits).toBe(totals.credits);
    });

    it('refuses to refund onto a card past its expiry that the hourly job has not closed yet (it would be breakage)', async () => {
      const code = await buyAndPay(9000);
      const paid = await process({ giftCardCode: code });
      expect(paid.status).toBe(201);
      await a.db.query(`UPDATE gift_cards SET expires_at = now() - interval '1 second' WHERE code = $1`, [code]);
      const refund = await refundPayment(a, await a.key('admin'), paid.body.id, { amount: 1000 });
      expect(refund.status).toBe(422);
      expect(refund.body.error.code).toBe('gift_card_credit_refused');
      expect(await balance(code)).toMatchObject({ status: 'active', balance: 1000 });
    });

    it('a card that covers everything needs no provider; a declined token gives the card its balance back', async () => {
      const code = await buyAndPay(9000);
      const before = (await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM simulator_charges')).rows[0].n;
      const paid = await process({ giftCardCode: code });
      expect(paid.status).toBe(201);
      expect(paid.body).toMatchObject({ status: 'succeeded', amount: 8000, giftCardAmount: 8000, provider: null });
      expect((await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM simulator_charges')).rows[0].n).toBe(before);
      expect((await balance(code)).balance).toBe(1000);

      const small = await buyAndPay(2000);
      const declined = await process({ giftCardCode: small, paymentMethod: { provider: 'simulator', token: 'tok_chargeDeclined' } });
      expect(declined.status).toBe(402);
      expect((await balance(small)).balance).toBe(2000);
      const totals = await ledgerTotals(a, 'USD');
      expect(totals.debits).toBe(totals.credits);
    });

    it('a hosted checkout holds the card part; the page charges the rest; an expired session gives it back', async () => {
      const code = await buyAndPay(3000);
      const created = await checkoutWithGiftCard(a, pk, productId, code);
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ subtotal: 8000, giftCardApplied: 3000, total: 5000 });
      expect((await balance(code)).balance).toBe(0);
      await a.db.query(`UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [created.body.id]);
      await runJob(() => a.app.get(PaymentJobs).expireSessions());
      expect((await balance(code)).balance).toBe(3000);

      const second = await checkoutWithGiftCard(a, pk, productId, code);
      await fetch(`${second.body.url}/pay`, { method: 'POST', redirect: 'manual' });
      const payment = await eventually(async () => {
        const p = await getPayment(a, sk, second.body.paymentId);
        return p.status === 'succeeded' ? p : undefined;
      });
      expect(payment).toMatchObject({ amount: 8000, giftCardAmount: 3000 });
      expect(
        (await a.db.query('SELECT amount FROM simulator_charges WHERE session_id = $1', [second.body.providerSessionId])).rows,
      ).toEqual([{ amount: 5000 }]);
      const totals = await ledgerTotals(a, 'USD');
      expect(totals.debits).toBe(totals.credits);
    });
  });
});
