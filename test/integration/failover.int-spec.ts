import { StripeEmulator } from '../emulators/stripe-emulator';
import { checkoutBody, createCheckout, createProduct, eventually, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const SECRET = 'whsec_paybridge_failover';

/** Routing USD=stripe,simulator on two instances: Stripe fails, the circuit opens everywhere, traffic moves on. */
describe('failover and the shared circuit breaker (Stripe emulator, two instances)', () => {
  const stripe = new StripeEmulator({ webhookSecret: SECRET });
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    await stripe.start();
    dbUrl = await createTestDatabase();
    const env = {
      STRIPE_SECRET_KEY: 'sk_test_failover',
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_BASE: stripe.url,
      PROVIDER_ROUTING: 'USD=stripe,simulator;*=simulator',
      PROVIDER_TIMEOUT_MS: '1000',
      CIRCUIT_FAILURE_THRESHOLD: '3',
      CIRCUIT_OPEN_SECONDS: '60',
    };
    [a, b] = await Promise.all([startTestApp(dbUrl, env), startTestApp(dbUrl, env)]);
    stripe.webhookUrl = `${a.url}/webhooks/stripe`;
    pk = await a.key('publishable');
    sk = await a.key('secret');
    admin = await a.key('admin');
    productId = (await createProduct(a, admin)).id;
  });
  afterEach(() => stripe.clearFaults());
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await stripe.stop();
    await dropDatabase(dbUrl);
  });

  const checkout = (api: TestApp) => createCheckout(api, pk, checkoutBody(productId));
  const stripeState = async (api: TestApp) =>
    (await api.http().get('/admin/circuit-breaker').set('X-Api-Key', admin)).body.data.find(
      (c: { provider: string }) => c.provider === 'stripe',
    );
  const sessionCreates = () => stripe.requestLog().filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions').length;
  /** A direct charge with a Stripe token first and a simulator token to fail over to. */
  const payWithFailover = (stripeToken: string) =>
    processPayment(
      a,
      sk,
      processBody(productId, stripeToken, {
        paymentMethod: undefined,
        paymentMethods: [
          { provider: 'stripe', token: stripeToken },
          { provider: 'simulator', token: 'tok_visa' },
        ],
      }),
    );
  const simulatorCharges = async () => (await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM simulator_charges')).rows[0].n;

  it('Stripe answering 500: each checkout opens at the next provider; after 3 failures the circuit is open on both instances', async () => {
    stripe.failNext(3, 500);
    for (let i = 0; i < 3; i++) {
      const res = await checkout(i % 2 ? b : a);
      expect(res.status).toBe(201);
      expect(res.body.provider).toBe('simulator');
      expect(res.body.url).toContain('/simulator/checkout/');
    }
    expect(await stripeState(a)).toMatchObject({ state: 'open', consecutiveFailures: 3 });
    await eventually(async () => (await stripeState(b)).state === 'open', 1000);

    // With the circuit open, Stripe is not even asked.
    const asked = sessionCreates();
    const next = await checkout(b);
    expect(next.status).toBe(201);
    expect(next.body.provider).toBe('simulator');
    expect(sessionCreates()).toBe(asked);
  });

  it('an admin reset closes it everywhere, and Stripe takes USD again', async () => {
    await b.http().post('/admin/circuit-breaker/reset?provider=stripe').set('X-Api-Key', admin).expect(200);
    await eventually(async () => (await stripeState(a)).state === 'closed', 1000);
    const res = await checkout(a);
    expect(res.body.provider).toBe('stripe');
  });

  it('a checkout asks the breaker only for the provider it calls: a recovering provider further down keeps its probe', async () => {
    await a.http().post('/admin/circuit-breaker/reset').set('X-Api-Key', admin).expect(200);
    // The simulator's circuit opened long ago: the next caller that asks may probe it.
    await a.db.query(
      `INSERT INTO circuit_breakers (provider, state, consecutive_failures, opened_at) VALUES ('simulator', 'open', 3, now() - interval '1 hour')
       ON CONFLICT (provider) DO UPDATE SET state = 'open', consecutive_failures = 3, opened_at = now() - interval '1 hour', probe_started_at = NULL`,
    );
    await a.http().post('/admin/cache/invalidate?entity=circuits').set('X-Api-Key', admin).expect(200);
    try {
      const opened = await checkout(a);
      expect(opened.status).toBe(201);
      expect(opened.body.provider).toBe('stripe');
      const simulator = await a.db.query(`SELECT state, probe_started_at FROM circuit_breakers WHERE provider = 'simulator'`);
      expect(simulator.rows).toEqual([{ state: 'open', probe_started_at: null }]); // no probe claimed and never made
    } finally {
      await a.http().post('/admin/circuit-breaker/reset').set('X-Api-Key', admin).expect(200);
    }
  });

  it('a decline never fails over, even with a token for the next provider', async () => {
    const before = await simulatorCharges();
    const res = await payWithFailover('pm_card_chargeDeclined');
    expect(res.status).toBe(402);
    expect(await simulatorCharges()).toBe(before);
  });

  it('a provider failure fails over a direct charge to the next provider the request has a token for', async () => {
    stripe.failNext(1, 503);
    const res = await payWithFailover('pm_card_visa');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', provider: 'simulator' });
    const timeline = await a.http().get(`/transactions/${res.body.id}/timeline`).set('X-Api-Key', sk);
    const attempts = timeline.body.data.filter((e: { kind: string }) => e.kind === 'attempt');
    expect(attempts.map((e: { detail: { provider?: string; status?: string } }) => e.detail.provider ?? e.detail.status)).toEqual([
      'stripe',
      'failed',
      'simulator',
    ]);
  });

  it('a connection dropped after Stripe charged is resolved by asking Stripe: no failover, one charge', async () => {
    const before = await simulatorCharges();
    stripe.dropAfterChargeNext(2); // the SDK retries a reset connection once, with the same key
    const res = await payWithFailover('pm_card_visa');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', provider: 'stripe' });
    const intents = stripe.paymentIntents().filter((pi) => pi.metadata.reference === res.body.id);
    expect(intents).toHaveLength(1);
    expect(stripe.charges().filter((c) => c.payment_intent === intents[0].id)).toHaveLength(1);
    expect(await simulatorCharges()).toBe(before);
  });
});
