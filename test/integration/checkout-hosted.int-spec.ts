import { createHmac } from 'node:crypto';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { checkoutBody, createCheckout, createProduct, eventually, ledgerTotals, runJob, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

describe('hosted checkout with the simulator (real PostgreSQL, signed webhooks)', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    pk = await api.key('publishable');
    sk = await api.key('secret');
    productId = (await createProduct(api, await api.key('admin'))).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const createSession = async (overrides: Record<string, unknown> = {}) => {
    const res = await createCheckout(api, pk, checkoutBody(productId, overrides));
    expect(res.status).toBe(201);
    return res.body;
  };
  const getSession = async (id: string) => (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', pk)).body;
  const submit = (url: string, action: 'pay' | 'decline') => fetch(`${url}/${action}`, { method: 'POST', redirect: 'manual' });

  it('Pay: the signed webhook completes the session, the payment succeeds, the ledger balances', async () => {
    const session = await createSession();
    expect(session).toMatchObject({
      status: 'open',
      provider: 'simulator',
      subtotal: 5998,
      discount: 0,
      giftCardApplied: 0,
      total: 5998,
      currency: 'USD',
    });
    expect(session.id).toMatch(/^cs_/);
    expect(session.lines).toEqual([expect.objectContaining({ productId, quantity: 2, unitAmount: 2999, amount: 5998 })]);

    const page = await fetch(session.url);
    const html = await page.text();
    expect(html).toContain('59.98 USD');
    expect(html).toMatch(/<form method="post"[^>]*\/pay"><button type="submit">Pay<\/button>/);

    const paid = await submit(session.url, 'pay');
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe('https://shop.example.com/success');

    const completed = await eventually(async () => {
      const s = await getSession(session.id);
      return s.status === 'complete' ? s : undefined;
    });
    const payment = await getPayment(api, sk, completed.paymentId);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 5998, checkoutSessionId: session.id, provider: 'simulator' });
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
    const events = await api.db.query('SELECT type FROM outbox_events WHERE aggregate_id = ANY($1) ORDER BY seq', [
      [session.id, payment.id],
    ]);
    expect(events.rows.map((r) => r.type)).toEqual(['payment.succeeded', 'checkout.completed']);
  });

  it('Decline: the payment fails and the session stays open; paying afterwards completes it with a new payment', async () => {
    const session = await createSession();
    const declined = await submit(session.url, 'decline');
    expect(declined.headers.get('location')).toBe('https://shop.example.com/cancel');
    const failed = await eventually(async () => {
      const p = await getPayment(api, sk, session.paymentId);
      return p.status === 'failed' ? p : undefined;
    });
    expect(failed).toMatchObject({ failureCode: 'card_declined', declineCode: 'generic_decline' });
    expect((await getSession(session.id)).status).toBe('open');

    await submit(session.url, 'pay');
    const completed = await eventually(async () => {
      const s = await getSession(session.id);
      return s.status === 'complete' ? s : undefined;
    });
    expect(completed.paymentId).not.toBe(session.paymentId);
    expect((await getPayment(api, sk, completed.paymentId)).status).toBe('succeeded');
  });

  it('a forged webhook is refused with 400 and a replayed one changes nothing', async () => {
    const session = await createSession();
    const event = {
      id: 'evt_sim_forged',
      type: 'checkout.session.completed',
      created: Math.floor(Date.now() / 1000),
      data: {
        merchantId: 'mer_default',
        reference: session.id,
        sessionId: session.providerSessionId,
        chargeId: 'sim_ch_forged',
        amount: session.total,
        currency: 'USD',
      },
    };
    const body = JSON.stringify(event);
    const forged = await api
      .http()
      .post('/webhooks/simulator')
      .set('Content-Type', 'application/json')
      .set('X-Signature', createHmac('sha256', 'wrong-secret').update(body).digest('hex'))
      .send(body);
    expect(forged.status).toBe(400);
    expect(forged.body.error.code).toBe('webhook_verification_failed');
    const unsigned = await api.http().post('/webhooks/simulator').set('Content-Type', 'application/json').send(body);
    expect(unsigned.status).toBe(400);
    expect((await api.db.query(`SELECT 1 FROM payment_webhook_events WHERE event_id = 'evt_sim_forged'`)).rows).toHaveLength(0);
    expect((await getSession(session.id)).status).toBe('open');

    // A genuine event, delivered twice (a provider retry or an attacker's replay).
    await submit(session.url, 'pay');
    await eventually(async () => (await getSession(session.id)).status === 'complete');
    const stored = await api.db.query(`SELECT payload FROM payment_webhook_events WHERE payload->>'reference' = $1`, [session.id]);
    const original = JSON.stringify(stored.rows[0].payload.payload);
    const signature = createHmac('sha256', 'whsec_simulator_dev').update(original).digest('hex');
    const ledgerBefore = await ledgerTotals(api, 'USD');
    const replay = await api
      .http()
      .post('/webhooks/simulator')
      .set('Content-Type', 'application/json')
      .set('X-Signature', signature)
      .send(original);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ received: true, duplicate: true });
    await drainWebhooks(api);
    expect(await ledgerTotals(api, 'USD')).toEqual(ledgerBefore);
  });

  it('cancels an open session with its pending payment, and expires sessions past their expiry', async () => {
    const toCancel = await createSession();
    const canceled = await api.http().post(`/payments/checkout/${toCancel.id}/cancel`).set('X-Api-Key', pk);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expect((await getPayment(api, sk, toCancel.paymentId)).status).toBe('canceled');
    expect((await fetch(`${toCancel.url}/pay`, { method: 'POST', redirect: 'manual' })).status).toBe(409);

    const toExpire = await createSession();
    await api.db.query(`UPDATE checkout_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, [toExpire.id]);
    expect(await runJob(() => api.app.get(PaymentJobs).expireSessions())).toBeGreaterThanOrEqual(1);
    expect((await getSession(toExpire.id)).status).toBe('expired');
    expect((await getPayment(api, sk, toExpire.paymentId)).status).toBe('canceled');
    const events = await api.db.query(`SELECT type FROM outbox_events WHERE aggregate_id = $1`, [toExpire.id]);
    expect(events.rows).toEqual([{ type: 'checkout.expired' }]);
  });

  it('prices from the catalog only and verifies client prices', async () => {
    const tampered = await createCheckout(api, pk, checkoutBody(productId, { items: [{ productId, quantity: 1, amount: 1 }] }));
    expect(tampered.status).toBe(400);

    const verify = await api
      .http()
      .post('/payments/verify-prices')
      .set('X-Api-Key', pk)
      .send({
        products: [
          { productId, price: 2999, quantity: 1, currency: 'USD' },
          { productId, price: 100, quantity: 1, currency: 'BRL' },
        ],
      });
    expect(verify.status).toBe(200);
    expect(verify.body).toEqual({ verified: false, discrepancies: [{ productId, expectedPrice: 14990, providedPrice: 100 }] });
  });
});
