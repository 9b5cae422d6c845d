import { ApiKeysService } from '../../src/auth/api-keys.service';
import { checkoutBody, createCheckout, createProduct, eventually, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('circuit breaker shared by every instance (PostgreSQL)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;
  // Another merchant on the same platform, with its own admin and secret keys and its own product.
  let otherAdmin: string;
  let otherSk: string;
  let otherProductId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl, { CIRCUIT_OPEN_SECONDS: '2' }), startTestApp(dbUrl, { CIRCUIT_OPEN_SECONDS: '2' })]);
    sk = await a.key('secret');
    admin = await a.key('admin');
    productId = (await createProduct(a, admin)).id;
    await a.db.query(`INSERT INTO merchants (id, name) VALUES ('mer_other', 'Another merchant')`);
    otherAdmin = (await a.app.get(ApiKeysService).create('mer_other', 'admin')).secret;
    otherSk = (await a.app.get(ApiKeysService).create('mer_other', 'secret')).secret;
    otherProductId = (await createProduct(a, otherAdmin)).id;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const pay = (api: TestApp, token: string) => processPayment(api, sk, processBody(productId, token));
  const stateOn = async (api: TestApp) => {
    const res = await api.http().get('/admin/circuit-breaker').set('X-Api-Key', admin);
    return res.body.data.find((c: { provider: string }) => c.provider === 'simulator');
  };
  const counts = async () =>
    (await a.db.query(`SELECT (SELECT count(*)::int FROM payments) AS payments, (SELECT count(*)::int FROM simulator_charges) AS charges`))
      .rows[0];

  it('opens after 3 consecutive failures on one instance, and the other instance refuses at once without calling the provider', async () => {
    for (let i = 0; i < 3; i++) expect((await pay(a, 'tok_processingError')).status).toBe(503);
    expect(await stateOn(a)).toMatchObject({ state: 'open', consecutiveFailures: 3 });
    await eventually(async () => (await stateOn(b)).state === 'open', 1000);

    const before = await counts();
    const refused = await pay(b, 'tok_visa');
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ type: 'provider_error', code: 'provider_unavailable' });
    const checkout = await createCheckout(b, sk, checkoutBody(productId));
    expect(checkout.status).toBe(503);
    expect(await counts()).toEqual(before); // nothing written, nothing sent to the provider

    const metrics = await b.http().get('/metrics');
    expect(metrics.text).toMatch(/circuit_breaker_state\{provider="simulator"\} 2/);
  });

  it('an admin reset on one instance closes it everywhere', async () => {
    const reset = await a.http().post('/admin/circuit-breaker/reset?provider=simulator').set('X-Api-Key', admin);
    expect(reset.status).toBe(200);
    await eventually(async () => (await stateOn(b)).state === 'closed', 1000);
    expect((await pay(b, 'tok_visa')).status).toBe(201);
  });

  it('a decline is an answer: it never counts as a failure', async () => {
    expect((await pay(a, 'tok_processingError')).status).toBe(503);
    expect((await pay(a, 'tok_processingError')).status).toBe(503);
    await eventually(async () => (await stateOn(b)).consecutiveFailures === 2, 1000);
    expect((await pay(b, 'tok_chargeDeclined')).status).toBe(402);
    expect((await pay(a, 'tok_processingError')).status).toBe(503);
    expect(await stateOn(a)).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    await a.http().post('/admin/circuit-breaker/reset').set('X-Api-Key', admin).expect(200);
  });

  it('after the open period one probe goes through; its success closes the circuit', async () => {
    for (let i = 0; i < 3; i++) await pay(a, 'tok_processingError');
    expect((await stateOn(a)).state).toBe('open');
    expect((await pay(a, 'tok_visa')).status).toBe(503);
    await new Promise((r) => setTimeout(r, 2100));
    const probe = await pay(b, 'tok_visa');
    expect(probe.status).toBe(201);
    await eventually(async () => (await stateOn(a)).state === 'closed', 1000);
  });

  it("only a platform admin may reset it: a merchant's admin key gets 403 in the error shape", async () => {
    const refused = await a.http().post('/admin/circuit-breaker/reset?provider=simulator').set('X-Api-Key', otherAdmin);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      type: 'authentication_error',
      code: 'platform_admin_required',
      requestId: expect.any(String),
    });
    const allowed = await a.http().post('/admin/circuit-breaker/reset?provider=simulator').set('X-Api-Key', admin);
    expect(allowed.status).toBe(200);
  });

  it("a merchant's test failure tokens do not open the breaker for another merchant's payments", async () => {
    await eventually(async () => (await stateOn(a)).state === 'closed', 1000);
    for (let i = 0; i < 5; i++) {
      const failed = await processPayment(a, otherSk, processBody(otherProductId, 'tok_processingError'));
      expect(failed.status).toBe(503);
    }
    expect(await stateOn(a)).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect((await pay(b, 'tok_visa')).status).toBe(201);
  });
});
