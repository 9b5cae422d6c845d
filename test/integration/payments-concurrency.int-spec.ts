import { createProduct, ledgerTotals, newKey, processBody, processPayment, refundPayment, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('payments under concurrency: two instances, one database', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl), startTestApp(dbUrl)]);
    sk = await a.key('secret');
    admin = await a.key('admin');
    productId = (await createProduct(a, admin, { prices: [{ currency: 'USD', amount: 1000 }] })).id;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const charges = async () => (await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM simulator_charges')).rows[0].n;

  it('100 concurrent POST /payments/process with one key make one charge at the simulator', async () => {
    const before = await charges();
    const key = newKey();
    const body = processBody(productId, 'tok_visa');
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => processPayment(i % 2 ? a : b, sk, body, key)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const ids = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await charges()).toBe(before + 1);
    expect((await a.db.query('SELECT count(*)::int AS n FROM payments WHERE idempotency_key = $1', [key])).rows[0].n).toBe(1);
    const totals = await ledgerTotals(a, 'USD');
    expect(totals.debits).toBe(totals.credits);
  });

  it('concurrent refunds never exceed the captured amount', async () => {
    const paid = await processPayment(a, sk, processBody(productId, 'tok_visa'));
    expect(paid.body.amount).toBe(1000);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => refundPayment(i % 2 ? a : b, admin, paid.body.id, { amount: 300, reason: 'race' })),
    );
    const ok = responses.filter((r) => r.status === 201);
    expect(ok).toHaveLength(3);
    for (const refused of responses.filter((r) => r.status !== 201)) {
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('refund_exceeds_remaining');
    }
    const payment = await getPayment(a, sk, paid.body.id);
    expect(payment).toMatchObject({ amountRefunded: 900, status: 'partially_refunded' });
    const atSimulator = await a.db.query('SELECT amount_refunded FROM simulator_charges WHERE id = $1', [paid.body.providerRef]);
    expect(atSimulator.rows[0].amount_refunded).toBe(900);

    // The rest, without an amount: the remaining 100; then nothing is left.
    const rest = await refundPayment(a, admin, paid.body.id);
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount: 100, status: 'succeeded', paymentId: paid.body.id });
    expect(await getPayment(a, sk, paid.body.id)).toMatchObject({
      amountRefunded: 1000,
      status: 'refunded',
    });
    const none = await refundPayment(a, admin, paid.body.id, { amount: 1 });
    expect(none.status).toBe(422);
    expect(none.body.error.code).toBe('payment_not_refundable');

    const ledger = await a.http().get('/admin/ledger/balance?currency=USD').set('X-Api-Key', admin);
    expect(ledger.body.balanced).toBe(true);
    expect(ledger.body.accounts).toEqual(
      expect.arrayContaining([expect.objectContaining({ account: 'refunds', debits: expect.any(Number) })]),
    );
    const events = await a.db.query(`SELECT count(*)::int AS n FROM outbox_events WHERE aggregate_id = $1 AND type = 'payment.refunded'`, [
      paid.body.id,
    ]);
    expect(events.rows[0].n).toBe(4);
  });

  it('a refund is idempotent: the same key refunds once', async () => {
    const paid = await processPayment(a, sk, processBody(productId, 'tok_visa'));
    const key = newKey();
    const [r1, r2] = await Promise.all([
      refundPayment(a, admin, paid.body.id, { amount: 400 }, key),
      refundPayment(b, admin, paid.body.id, { amount: 400 }, key),
    ]);
    // One runs; the other replays it (201) or finds it still running (409): never a second refund, never a 5xx.
    expect([r1.status, r2.status]).toContain(201);
    for (const status of [r1.status, r2.status]) expect([201, 409]).toContain(status);
    const again = await refundPayment(a, admin, paid.body.id, { amount: 400 }, key);
    expect(again.status).toBe(201);
    expect((await getPayment(a, sk, paid.body.id)).amountRefunded).toBe(400);
  });

  it('a refund without amount takes what remains once the refunds in flight are counted', async () => {
    const paid = await processPayment(a, sk, processBody(productId, 'tok_visa'));
    // A refund of 300 still at the provider (its hold, as reserveRefund leaves it).
    await a.db.query('UPDATE payments SET amount_refund_pending = 300 WHERE id = $1', [paid.body.id]);
    const rest = await refundPayment(a, admin, paid.body.id);
    expect(rest.status).toBe(201);
    expect(rest.body.amount).toBe(paid.body.amount - 300);
  });

  it('refuses refunds of payments that took no money', async () => {
    await processPayment(a, sk, processBody(productId, 'tok_chargeDeclined'));
    const failed = (await a.db.query(`SELECT id FROM payments WHERE status = 'failed' ORDER BY created_at DESC LIMIT 1`)).rows[0].id;
    const res = await refundPayment(a, admin, failed);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('payment_not_refundable');
    const missing = await refundPayment(a, admin, 'pay_nope');
    expect(missing.status).toBe(404);
  });
});
