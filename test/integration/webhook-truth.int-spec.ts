import { randomBytes } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import type { KeyKind } from '../../src/auth/auth.types';
import { SimulatorRepository } from '../../src/payments/providers/simulator/simulator.repository';
import { purchaseGiftCard } from '../factories/gift-cards';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { chargeEvent, deliverSimulatorEvent } from '../factories/webhooks';

/**
 * A verified webhook is not the truth about money: a signed event that says money moved is applied only
 * when the provider's own records confirm it and it matches the session or payment we asked for
 * (provider, amount, currency). Anything else moves nothing and is kept as a dead letter with its reason.
 */
describe('webhooks that cannot lie (real PostgreSQL, the simulator’s books)', () => {
  let dbUrl: string;
  let api: TestApp;
  let a: Keys;
  let b: Keys;
  let productOfB: string;

  interface Keys {
    id: string;
    publishable: string;
    secret: string;
    admin: string;
  }

  async function merchant(): Promise<Keys> {
    const id = `mer_${randomBytes(6).toString('hex')}`;
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ($1, $2)`, [id, `Merchant ${id}`]);
    const keys = api.app.get(ApiKeysService);
    const secret = async (kind: KeyKind) => (await keys.create(id, kind)).secret;
    return { id, publishable: await secret('publishable'), secret: await secret('secret'), admin: await secret('admin') };
  }

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    [a, b] = [await merchant(), await merchant()];
    productOfB = (await createProduct(api, b.admin, { prices: [{ currency: 'USD', amount: 4000 }] })).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const sessionOf = async (keys: Keys, id: string) =>
    (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', keys.publishable)).body as { status: string; paymentId: string };
  const ledgerPostings = async (paymentId: string) =>
    (await api.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_entries WHERE payment_id = $1`, [paymentId])).rows[0].n;
  const deadLetters = async (keys: Keys) => {
    const res = await api.http().get('/admin/dead-letters?limit=100').set('X-Api-Key', keys.admin);
    expect(res.status).toBe(200);
    return res.body.data as Array<{ eventId: string; lastError: string; status: string }>;
  };
  /** A charge in the simulator's own books (as its hosted page records one), for a session of ours. */
  const chargeAtSimulator = async (
    session: { id: string; providerSessionId: string },
    merchantId: string,
    amount: number,
    currency = 'USD',
  ) => {
    const id = `sim_ch_${randomBytes(8).toString('hex')}`;
    await api.app.get(SimulatorRepository).recordCharge({
      id,
      idempotencyKey: `hosted-test-${id}`,
      token: 'tok_visa',
      amount,
      currency,
      status: 'succeeded',
      declineCode: null,
      reference: session.id,
      sessionId: session.providerSessionId,
      merchantId,
    });
    return id;
  };
  const completionFor = (session: { id: string; providerSessionId: string }, merchantId: string, chargeId: string, amount: number) => ({
    ...chargeEvent(session.id, chargeId, amount),
    merchantId,
    sessionId: session.providerSessionId,
  });
  /** Nothing moved: the session open, its payment not succeeded, nothing posted; the dead letter says why. */
  const expectHeld = async (keys: Keys, session: { id: string; paymentId: string }, eventId: string, reason: RegExp) => {
    expect((await sessionOf(keys, session.id)).status).toBe('open');
    expect((await getPayment(api, keys.secret, session.paymentId)).status).not.toBe('succeeded');
    expect(await ledgerPostings(session.paymentId)).toBe(0);
    expect((await deadLetters(keys)).find((letter) => letter.eventId === eventId)).toMatchObject({
      status: 'dead',
      lastError: expect.stringMatching(reason),
    });
  };

  it('a forged signed checkout.session.completed for another merchant’s gift-card purchase completes nothing and is held for that merchant', async () => {
    const bought = await purchaseGiftCard(api, b.publishable, { amount: 5000, currency: 'USD' });
    expect(bought.status).toBe(201);
    const session = bought.body.checkoutSession;
    // No charge behind it: the simulator never took this money.
    const forged = await deliverSimulatorEvent(
      api,
      'checkout.session.completed',
      completionFor(session, b.id, `sim_ch_forged_${randomBytes(6).toString('hex')}`, session.total),
      (stored) => stored.status === 'dead',
    );
    await expectHeld(b, session, forged.eventId, /does not confirm.*has no charge/);
    const card = await api.http().get(`/gift-cards/${bought.body.giftCard.code}/balance`).set('X-Api-Key', b.publishable);
    expect(card.body.status).not.toBe('active');
    // Merchant A (the forger's side) does not see B's dead letter.
    expect((await deadLetters(a)).map((letter) => letter.eventId)).not.toContain(forged.eventId);
  });

  it('a charge the simulator made for less than the session total completes nothing', async () => {
    const session = (await createCheckout(api, b.publishable, checkoutBody(productOfB))).body;
    const charge = await chargeAtSimulator(session, b.id, 100);
    const event = await deliverSimulatorEvent(
      api,
      'checkout.session.completed',
      completionFor(session, b.id, charge, 100),
      (s) => s.status === 'dead',
    );
    await expectHeld(b, session, event.eventId, /amount 100, we asked for 8000/);
  });

  it('a charge in another currency completes nothing', async () => {
    const session = (await createCheckout(api, b.publishable, checkoutBody(productOfB))).body;
    const charge = await chargeAtSimulator(session, b.id, session.total, 'EUR');
    const event = await deliverSimulatorEvent(
      api,
      'checkout.session.completed',
      { ...completionFor(session, b.id, charge, session.total), currency: 'EUR' },
      (s) => s.status === 'dead',
    );
    await expectHeld(b, session, event.eventId, /currency EUR, we asked for USD/);
  });

  it('a forged event that contradicts the simulator’s books (another amount than it charged) completes nothing', async () => {
    const session = (await createCheckout(api, b.publishable, checkoutBody(productOfB))).body;
    const charge = await chargeAtSimulator(session, b.id, 100);
    // Signed, naming a real charge, but claiming the session's total.
    const event = await deliverSimulatorEvent(
      api,
      'checkout.session.completed',
      completionFor(session, b.id, charge, session.total),
      (s) => s.status === 'dead',
    );
    await expectHeld(b, session, event.eventId, /amount 8000 \(the provider shows 100\)/);
  });

  it('a simulator charge for a session opened at another provider completes nothing', async () => {
    const session = (await createCheckout(api, b.publishable, checkoutBody(productOfB))).body;
    // As if the session had been opened at Mercado Pago: the simulator's charge names it all the same.
    await api.db.query(`UPDATE checkout_sessions SET provider = 'mercadopago' WHERE id = $1`, [session.id]);
    const charge = await chargeAtSimulator(session, b.id, session.total);
    const event = await deliverSimulatorEvent(
      api,
      'checkout.session.completed',
      completionFor(session, b.id, charge, session.total),
      (s) => s.status === 'dead',
    );
    await expectHeld(b, session, event.eventId, /it is at mercadopago, not simulator/);
  });

  it('a genuine payment on the simulator’s page still completes the session and activates the gift card', async () => {
    const bought = await purchaseGiftCard(api, b.publishable, { amount: 5000, currency: 'USD' });
    const page = await fetch(bought.body.checkoutSession.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // An unknown page is a 404 in the API's error shape (its HTML Content-Type made it a 500 before).
    const unknown = await api.http().get('/simulator/checkout/sim_cs_unknown');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'resource_missing' });
    const paid = await fetch(`${bought.body.checkoutSession.url}/pay`, { method: 'POST', redirect: 'manual' });
    expect(paid.status).toBe(303);
    const code = bought.body.giftCard.code;
    await eventually(
      async () => (await api.http().get(`/gift-cards/${code}/balance`).set('X-Api-Key', b.publishable)).body.status === 'active',
    );
    expect((await sessionOf(b, bought.body.checkoutSession.id)).status).toBe('complete');
    expect(await ledgerPostings(bought.body.checkoutSession.paymentId)).toBeGreaterThan(0);
  });

  it('a confirmed success that matches no payment of ours is held for an admin, not ignored', async () => {
    const reference = `pay_unknown_${randomBytes(6).toString('hex')}`;
    const id = `sim_ch_${randomBytes(8).toString('hex')}`;
    await api.app.get(SimulatorRepository).recordCharge({
      id,
      idempotencyKey: `direct-test-${id}`,
      token: 'tok_visa',
      amount: 8000,
      currency: 'USD',
      status: 'succeeded',
      declineCode: null,
      reference,
      sessionId: null,
      merchantId: a.id,
    });
    const event = await deliverSimulatorEvent(
      api,
      'charge.succeeded',
      { ...chargeEvent(reference, id), merchantId: a.id },
      (s) => s.status === 'dead',
    );
    expect((await deadLetters(a)).find((letter) => letter.eventId === event.eventId)).toMatchObject({
      lastError: expect.stringMatching(/matches no payment of merchant/),
    });
    // A completed checkout naming no session of ours, likewise.
    const session = { id: `cs_unknown_${randomBytes(6).toString('hex')}`, providerSessionId: `sim_cs_${randomBytes(8).toString('hex')}` };
    const charge = await chargeAtSimulator(session, a.id, 8000);
    const completed = await deliverSimulatorEvent(
      api,
      'checkout.session.completed',
      completionFor(session, a.id, charge, 8000),
      (s) => s.status === 'dead',
    );
    expect((await deadLetters(a)).find((letter) => letter.eventId === completed.eventId)).toMatchObject({
      lastError: expect.stringMatching(/matches no checkout session of merchant/),
    });
  });
});

describe('the simulator refuses the built-in development secret in production', () => {
  let dbUrl: string;
  beforeAll(async () => {
    dbUrl = await createTestDatabase();
  });
  afterAll(async () => {
    await dropDatabase(dbUrl);
  });

  it('its webhook route and pages answer 503 simulator_insecure_secret; with a secret of its own it serves', async () => {
    const prod = await startTestApp(dbUrl, { NODE_ENV: 'production' });
    try {
      for (const res of [
        await prod.http().post('/webhooks/simulator').set('Content-Type', 'application/json').set('X-Signature', 'a'.repeat(64)).send('{}'),
        await prod.http().get('/simulator/checkout/sim_cs_any'),
        await prod.http().post('/simulator/checkout/sim_cs_any/pay'),
        await prod.http().get('/simulator/3ds/sim_ch_any'),
      ]) {
        expect(res.status).toBe(503);
        expect(res.body.error).toMatchObject({ code: 'simulator_insecure_secret' });
      }
    } finally {
      await prod.close();
    }
    const own = await startTestApp(dbUrl, { NODE_ENV: 'production', SIMULATOR_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}` });
    try {
      expect((await own.http().get('/simulator/checkout/sim_cs_any')).status).toBe(404);
      const unsigned = await own
        .http()
        .post('/webhooks/simulator')
        .set('Content-Type', 'application/json')
        .set('X-Signature', 'a'.repeat(64))
        .send('{}');
      expect(unsigned.status).toBe(400);
    } finally {
      await own.close();
    }
  });
});
