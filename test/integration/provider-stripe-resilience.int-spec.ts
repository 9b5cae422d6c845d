import { randomBytes } from 'node:crypto';
import { DEFAULT_MERCHANT_ID } from '../../src/auth/auth.types';
import { StripeEmulator } from '../emulators/stripe-emulator';
import {
  checkoutBody,
  createCheckout,
  createProduct,
  eventually,
  ledgerTotals,
  newKey,
  processBody,
  processPayment,
  getPayment,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

// Checkout, direct charges and refunds are in provider-stripe.int-spec.ts.
const SECRET = 'whsec_paybridge_stripe_int';

describe('Stripe through the API: lost answers, outages, webhook security (StripeEmulator, real PostgreSQL)', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    await emulator.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      STRIPE_SECRET_KEY: 'sk_test_paybridge',
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_BASE: emulator.url,
      PROVIDER_ROUTING: 'USD=stripe,simulator;*=simulator',
      PROVIDER_TIMEOUT_MS: '1000',
      // This file injects several Stripe failures in a row; the shared circuit breaker has its own tests.
      CIRCUIT_FAILURE_THRESHOLD: '1000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/stripe`;
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterEach(() => emulator.clearFaults());
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  const createSession = async (overrides: Record<string, unknown> = {}) => {
    const body = checkoutBody(productId, overrides);
    const res = await createCheckout(api, pk, body);
    expect(res.status).toBe(201);
    return { session: res.body, body };
  };
  const getSession = async (id: string) => (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', pk)).body;
  const completedSession = (id: string) =>
    eventually(async () => {
      const s = await getSession(id);
      return s.status === 'complete' ? s : undefined;
    });
  const paymentInStatus = (id: string, status: string) =>
    eventually(async () => {
      const p = await getPayment(api, sk, id);
      return p.status === status ? p : undefined;
    });
  const charge = (token: string, overrides: Record<string, unknown> = {}, key = newKey()) =>
    processPayment(api, sk, processBody(productId, token, { paymentMethod: { provider: 'stripe', token }, ...overrides }), key);
  const latestPaymentId = async () => (await api.db.query(`SELECT id FROM payments ORDER BY created_at DESC LIMIT 1`)).rows[0].id as string;
  const intentsFor = (reference: string) => emulator.paymentIntents().filter((pi) => pi.metadata.reference === reference);
  const chargesFor = (paymentIntent: string) => emulator.charges().filter((c) => c.payment_intent === paymentIntent);
  const storedEvents = async (eventId: string) =>
    (await api.db.query(`SELECT status FROM payment_webhook_events WHERE provider = 'stripe' AND event_id = $1`, [eventId])).rows;
  const postWebhook = (body: string, signature?: string) => {
    const req = api.http().post('/webhooks/stripe').set('Content-Type', 'application/json; charset=utf-8');
    return (signature ? req.set('Stripe-Signature', signature) : req).send(body);
  };

  describe('lost answers, outages and retrieve()', () => {
    it('the connection drops after Stripe charged: retrieve finds the intent by our key; succeeded with exactly one charge', async () => {
      const logStart = emulator.requestLog().length;
      emulator.dropAfterChargeNext(2); // stripe-node retries a reset connection once, with the same key
      const res = await charge('pm_card_visa');
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('succeeded');
      const [pi] = intentsFor(res.body.id);
      expect(intentsFor(res.body.id)).toHaveLength(1);
      expect(res.body.providerRef).toBe(pi.id);
      expect(chargesFor(pi.id)).toHaveLength(1);

      const log = emulator.requestLog().slice(logStart);
      const creates = log.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
      expect(creates.map((r) => [r.fault, r.headers['idempotency-key']])).toEqual([
        ['drop', `${res.body.id}_1`],
        ['drop', `${res.body.id}_1`],
      ]);
      expect(log.some((r) => r.method === 'GET' && r.path === '/v1/payment_intents')).toBe(true);
    });

    it('Stripe hangs past PROVIDER_TIMEOUT_MS: 503 outcome unknown, the payment waits; the retry with the key charges once', async () => {
      emulator.hangNext(1);
      const key = newKey();
      const body = processBody(productId, 'pm_card_visa', { paymentMethod: { provider: 'stripe', token: 'pm_card_visa' } });
      const send = () => processPayment(api, sk, body, key);
      const res = await send();
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ type: 'provider_error', code: 'payment_outcome_unknown' });
      const id = await latestPaymentId();
      // No record at Stripe right after a timeout proves nothing: the payment is not failed.
      expect(await getPayment(api, sk, id)).toMatchObject({ status: 'processing' });
      expect(intentsFor(id)).toHaveLength(0);

      const retried = await send();
      expect(retried.status).toBe(201);
      expect(retried.body).toMatchObject({ id, status: 'succeeded' });
      expect(intentsFor(id)).toHaveLength(1);
    });

    it('a 500 Stripe confirms it did not act on fails over to the next provider', async () => {
      emulator.failNext(1, 500);
      const res = await charge('pm_card_visa', {
        paymentMethod: undefined,
        paymentMethods: [
          { provider: 'stripe', token: 'pm_card_visa' },
          { provider: 'simulator', token: 'tok_visa' },
        ],
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'succeeded', provider: 'simulator' });
      expect(intentsFor(res.body.id)).toHaveLength(0);
    });

    it('a 500 during an outage that also hides reads is an unknown outcome: no failover; the retry with the key settles it', async () => {
      emulator.failNext(3, 500, 'any'); // the charge, the adapter's lookup, the service's retrieve
      const key = newKey();
      const body = processBody(productId, 'pm_card_visa', {
        paymentMethod: undefined,
        paymentMethods: [
          { provider: 'stripe', token: 'pm_card_visa' },
          { provider: 'simulator', token: 'tok_visa' },
        ],
      });
      const send = () => processPayment(api, sk, body, key);
      const first = await send();
      expect(first.status).toBe(503);
      expect(first.body.error.code).toBe('payment_outcome_unknown');
      const id = await latestPaymentId();
      expect((await getPayment(api, sk, id)).status).toBe('processing');
      expect((await api.db.query(`SELECT 1 FROM simulator_charges WHERE reference = $1`, [id])).rows).toHaveLength(0);

      const retry = await send();
      expect(retry.status).toBe(201);
      expect(retry.body).toMatchObject({ id, status: 'succeeded', provider: 'stripe' });
      expect(intentsFor(id)).toHaveLength(1);
      expect(chargesFor(intentsFor(id)[0].id)).toHaveLength(1);
    });
  });

  describe('webhook security (/webhooks/stripe)', () => {
    const forgedCompletion = (session: { id: string; providerSessionId: string; total: number }) =>
      JSON.stringify(
        {
          id: `evt_forged_${randomBytes(6).toString('hex')}`,
          object: 'event',
          api_version: emulator.apiVersion,
          created: Math.floor(Date.now() / 1000),
          data: {
            object: {
              id: session.providerSessionId,
              object: 'checkout.session',
              client_reference_id: session.id,
              metadata: { merchant_id: DEFAULT_MERCHANT_ID, reference: session.id },
              payment_intent: 'pi_forged',
              payment_status: 'paid',
              status: 'complete',
              amount_total: session.total,
              currency: 'usd',
            },
          },
          livemode: false,
          type: 'checkout.session.completed',
        },
        null,
        2,
      );

    it('a bad signature, a missing one and a stale timestamp are 400 and store nothing', async () => {
      const { session } = await createSession();
      const body = forgedCompletion(session);
      const eventId = (JSON.parse(body) as { id: string }).id;
      const now = Math.floor(Date.now() / 1000);

      const forged = await postWebhook(body, emulator.signPayload(body, now, 'whsec_attacker'));
      expect(forged.status).toBe(400);
      expect(forged.body.error.code).toBe('webhook_verification_failed');
      expect((await postWebhook(body)).status).toBe(400);
      const stale = await postWebhook(body, emulator.signPayload(body, now - 301));
      expect(stale.status).toBe(400);
      expect(stale.body.error.code).toBe('webhook_verification_failed');

      await drainWebhooks(api);
      expect(await storedEvents(eventId)).toHaveLength(0);
      expect((await getSession(session.id)).status).toBe('open');
      expect((await getPayment(api, sk, session.paymentId)).status).toBe('pending');
    });

    const heldEvent = (eventId: string) =>
      eventually(async () => {
        const { rows } = await api.db.query<{ status: string; last_error: string }>(
          `SELECT status, last_error FROM payment_webhook_events WHERE provider = 'stripe' AND event_id = $1`,
          [eventId],
        );
        return rows[0]?.status === 'dead' ? rows[0] : undefined;
      });
    const signed = (body: string) => emulator.signPayload(body, Math.floor(Date.now() / 1000));

    it('a correctly signed completion whose amount differs from what Stripe holds is not applied; Stripe’s own event then is', async () => {
      const { session } = await createSession();
      const webhookUrl = emulator.webhookUrl;
      emulator.webhookUrl = undefined; // Stripe's own event waits while the forged one is tried
      let genuine: string | undefined;
      try {
        await emulator.payCheckoutSession(session.providerSessionId);
        genuine = emulator
          .events()
          .find((e) => e.type === 'checkout.session.completed' && (e.data.object as { id: string }).id === session.providerSessionId)?.id;
      } finally {
        emulator.webhookUrl = webhookUrl;
      }
      const paymentIntent = emulator.checkoutSessions().find((cs) => cs.id === session.providerSessionId)?.payment_intent as string;
      const body = forgedCompletion({ ...session, total: session.total - 1000 }).replace('"pi_forged"', JSON.stringify(paymentIntent));
      const eventId = (JSON.parse(body) as { id: string }).id;
      expect((await postWebhook(body, signed(body))).status).toBe(200);

      expect((await heldEvent(eventId)).last_error).toMatch(/amount \d+ \(the provider shows \d+\)/);
      expect((await getSession(session.id)).status).toBe('open');
      expect((await getPayment(api, sk, session.paymentId)).status).toBe('pending');
      const ledger = await api.db.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE payment_id = $1`, [session.paymentId]);
      expect(ledger.rows[0].n).toBe(0);

      await emulator.resend(genuine as string);
      expect(await completedSession(session.id)).toMatchObject({ paymentId: session.paymentId });
      expect(await paymentInStatus(session.paymentId, 'succeeded')).toMatchObject({ amount: session.total, providerRef: paymentIntent });
    });

    it('a correctly signed completion of a session Stripe shows unpaid is not applied', async () => {
      const { session } = await createSession();
      const body = forgedCompletion(session);
      const eventId = (JSON.parse(body) as { id: string }).id;
      expect((await postWebhook(body, signed(body))).status).toBe(200);
      expect((await heldEvent(eventId)).last_error).toMatch(/stripe does not confirm checkout\.session\.completed/);
      expect((await getSession(session.id)).status).toBe('open');
      expect((await getPayment(api, sk, session.paymentId)).status).toBe('pending');
    });

    it('accepts a header with several v1 signatures (secret rotation) when one matches', async () => {
      const body = JSON.stringify({
        id: `evt_rotation_${randomBytes(6).toString('hex')}`,
        object: 'event',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: 'cus_rotation', object: 'customer' } },
        type: 'customer.created',
      });
      const now = Math.floor(Date.now() / 1000);
      const old = emulator.signPayload(body, now, 'whsec_previous_secret').split(',')[1];
      const res = await postWebhook(body, `${emulator.signPayload(body, now)},${old}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true, duplicate: false });
      expect(await storedEvents((JSON.parse(body) as { id: string }).id)).toHaveLength(1);
    });

    it('a replayed event (same id, captured bytes and signature) answers 200 duplicate and has no second effect', async () => {
      const { session } = await createSession();
      await emulator.payCheckoutSession(session.providerSessionId);
      const completed = await completedSession(session.id);
      const event = emulator
        .events()
        .find((e) => e.type === 'checkout.session.completed' && (e.data.object as { id: string }).id === session.providerSessionId);
      expect(event).toBeDefined();
      await eventually(async () => (await storedEvents(event!.id))[0]?.status === 'processed');
      const ledgerBefore = await ledgerTotals(api, 'USD');
      const outboxBefore = (await api.db.query(`SELECT count(*)::int AS n FROM outbox_events`)).rows[0].n;

      const replay = await emulator.resend(event!.id, { sameSignature: true });
      expect(replay.status).toBe(200);
      expect(JSON.parse(replay.responseBody ?? '{}')).toEqual({ received: true, duplicate: true });
      await drainWebhooks(api);
      expect(await storedEvents(event!.id)).toHaveLength(1);
      expect(await ledgerTotals(api, 'USD')).toEqual(ledgerBefore);
      expect((await api.db.query(`SELECT count(*)::int AS n FROM outbox_events`)).rows[0].n).toBe(outboxBefore);
      const payments = await api.db.query(`SELECT id FROM payments WHERE checkout_session_id = $1`, [session.id]);
      expect(payments.rows).toEqual([{ id: completed.paymentId }]);
    });
  });
});
