import { checkoutBody, createProduct, newKey, processBody, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('fraud rules (real PostgreSQL, two instances)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let sk: string;
  let productId: string;
  const fraudOn = { FRAUD_ENABLED: 'true', FRAUD_MAX_PURCHASES_PER_HOUR: '3', TRUST_PROXY: 'true' };

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl, fraudOn), startTestApp(dbUrl, fraudOn)]);
    sk = await a.key('secret');
    productId = (await createProduct(a, await a.key('admin'))).id;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const chargesAtSimulator = async () => (await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM simulator_charges')).rows[0].n;
  const pay = (api: TestApp, ip: string, token = 'tok_visa', overrides: Record<string, unknown> = {}) =>
    api
      .http()
      .post('/payments/process')
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', newKey())
      .set('X-Forwarded-For', ip)
      .send(processBody(productId, token, { customer: { email: uniqueEmail() }, ...overrides }));

  it('blocks the 4th purchase from one IP within the hour across two instances, before the provider is called', async () => {
    const ip = '203.0.113.7';
    // Different cards and emails: only the IP is shared; alternate instances.
    expect((await pay(a, ip, 'tok_visa')).status).toBe(201);
    expect((await pay(b, ip, 'tok_mastercard')).status).toBe(201);
    expect((await pay(a, ip, 'tok_threeDSecure')).status).toBe(201);
    const before = await chargesAtSimulator();
    const blocked = await pay(b, ip, 'tok_visa');
    expect(blocked.status).toBe(402);
    expect(blocked.body.error).toMatchObject({ type: 'card_error', code: 'fraud_blocked', declineCode: 'fraud_blocked' });
    expect(await chargesAtSimulator()).toBe(before);

    const { rows } = await a.db.query(
      `SELECT id, status, failure_code FROM payments WHERE client_ip = $1 ORDER BY created_at DESC LIMIT 1`,
      [ip],
    );
    expect(rows[0]).toMatchObject({ status: 'failed', failure_code: 'fraud_blocked' });
    const timeline = await a.http().get(`/transactions/${rows[0].id}/timeline`).set('X-Api-Key', sk);
    expect(timeline.body.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'note', detail: expect.objectContaining({ fraud: 'velocity_ip', limit: 3 }) }),
      ]),
    );
    expect((await b.http().get('/metrics')).text).toMatch(/fraud_blocked_total\{rule="velocity_ip"\} 1/);

    // Another IP is not affected.
    expect((await pay(a, '203.0.113.8')).status).toBe(201);
  });

  it('limits one email the same way, whatever the IP and card', async () => {
    const c = await startTestApp(dbUrl, { ...fraudOn, FRAUD_MAX_PURCHASES_PER_HOUR_PER_CARD: '1000' });
    try {
      const email = uniqueEmail();
      for (let i = 0; i < 3; i++) {
        expect((await pay(c, `198.51.100.${i}`, 'tok_visa', { customer: { email } })).status).toBe(201);
      }
      const byEmail = await pay(c, '198.51.100.9', 'tok_mastercard', { customer: { email } });
      expect(byEmail.status).toBe(402);
      expect(byEmail.body.error.code).toBe('fraud_blocked');
    } finally {
      await c.close();
    }
  });

  it('limits one card the same way, whatever the IP and email', async () => {
    // tok_visa has been used by at least 3 purchases within the hour by now
    const byCard = await pay(b, '198.51.100.10', 'tok_visa');
    expect(byCard.status).toBe(402);
    const { rows } = await a.db.query(`SELECT id FROM payments WHERE client_ip = '198.51.100.10'`);
    const timeline = await a.http().get(`/transactions/${rows[0].id}/timeline`).set('X-Api-Key', sk);
    expect(timeline.body.data).toEqual(
      expect.arrayContaining([expect.objectContaining({ detail: expect.objectContaining({ fraud: 'velocity_card' }) })]),
    );
  });

  it('refuses a blocked country with 403, and the answer is replayed for the key', async () => {
    const key = newKey();
    const body = processBody(productId, 'tok_visa', { customer: { email: uniqueEmail(), country: 'KP' } });
    const refused = await a
      .http()
      .post('/payments/process')
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', key)
      .set('X-Forwarded-For', '192.0.2.1')
      .send(body);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('country_blocked');
    const again = await b
      .http()
      .post('/payments/process')
      .set('X-Api-Key', sk)
      .set('Idempotency-Key', key)
      .set('X-Forwarded-For', '192.0.2.1')
      .send(body);
    expect(again.status).toBe(403);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('refuses a hosted checkout from a blocked country or past the IP limit, writing nothing', async () => {
    const sessions = async () => (await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM checkout_sessions')).rows[0].n;
    const before = await sessions();
    const checkout = (ip: string, country?: string) =>
      a
        .http()
        .post('/payments/checkout')
        .set('X-Api-Key', sk)
        .set('Idempotency-Key', newKey())
        .set('X-Forwarded-For', ip)
        .send(checkoutBody(productId, { customer: { email: uniqueEmail(), ...(country ? { country } : {}) } }));
    expect((await checkout('192.0.2.50', 'IR')).status).toBe(403);
    expect((await checkout('203.0.113.7')).status).toBe(402); // the IP that made 3 purchases in the first test
    expect(await sessions()).toBe(before);
    expect((await checkout('192.0.2.51')).status).toBe(201);
  });
});
