import { createHmac, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createProduct, processBody, processPayment } from '../factories/payments';
import { productBody } from '../factories/products';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/** No input reaches a 500: each case here answered 500 (or a bare Fastify body) before. */
describe('input safety', () => {
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, { REQUEST_TIMEOUT_MS: '500' });
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const errorShape = (code?: string) => ({
    error: expect.objectContaining({ type: 'invalid_request_error', code: code ?? expect.any(String), requestId: expect.any(String) }),
  });
  const nested = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

  it('refuses a body nested 5000 levels deep with a 400 in the error shape', async () => {
    const res = await api.http().post('/admin/products').set('X-Api-Key', admin).set('Content-Type', 'application/json').send(nested(5000));
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errorShape('body_too_deep'));
  });

  it('accepts 32 levels of nesting and refuses 33, before validation', async () => {
    const metadata = (levels: number) => `{"name":"Deep","prices":[{"currency":"USD","amount":100}],"metadata":${nested(levels - 1)}}`;
    const at32 = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .set('Content-Type', 'application/json')
      .send(metadata(32));
    expect(at32.body.error?.code).not.toBe('body_too_deep');
    expect(at32.status).toBeLessThan(500);
    const at33 = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .set('Content-Type', 'application/json')
      .send(metadata(33));
    expect(at33.status).toBe(400);
    expect(at33.body).toEqual(errorShape('body_too_deep'));
  });

  it('refuses a null character in a body string, a path id and a query value, naming the field', async () => {
    const body = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .send(productBody({ name: 'bad\u0000name' }));
    expect(body.status).toBe(400);
    expect(body.body).toEqual(errorShape('parameter_invalid'));
    expect(body.body.error.param).toBe('name');

    const path = await api.http().get('/transactions/pay_%00abc').set('X-Api-Key', sk);
    expect(path.status).toBe(400);
    expect(path.body.error.param).toBe('id');

    const query = await api.http().get('/transactions?startingAfter=pay_%00abc').set('X-Api-Key', sk);
    expect(query.status).toBe(400);
    expect(query.body.error.param).toBe('startingAfter');
  });

  it('refuses a signed simulator event without data with a 4xx', async () => {
    const body = JSON.stringify({
      id: `evt_sim_${randomBytes(8).toString('hex')}`,
      type: 'charge.succeeded',
      created: Math.floor(Date.now() / 1000),
    });
    const signature = createHmac('sha256', 'whsec_simulator_dev').update(body).digest('hex');
    const res = await api
      .http()
      .post('/webhooks/simulator')
      .set('Content-Type', 'application/json')
      .set('X-Signature', signature)
      .send(body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body).toEqual(errorShape());
  });

  it('cuts a request whose body trickles in slower than REQUEST_TIMEOUT_MS', async () => {
    const { port } = new URL(api.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    const trickle = setInterval(() => socket.writable && socket.write('a'), 100);
    socket.write(
      `POST /admin/products HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ${admin}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
    );
    // Waits for the server to end the connection (the test would time out if it never did).
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'request_timeout' } });
  });

  it("answers the framework's own refusals in the error shape", async () => {
    const longId = await api
      .http()
      .get(`/transactions/pay_${'x'.repeat(500)}`)
      .set('X-Api-Key', sk);
    expect([404, 414]).toContain(longId.status);
    expect(longId.body).toEqual(errorShape());

    const bigHeader = await api.http().get('/health').set('X-Big', 'x'.repeat(20_000));
    expect(bigHeader.status).toBe(431);
    expect(bigHeader.body).toEqual({ error: expect.objectContaining({ type: 'invalid_request_error', code: 'headers_too_large' }) });

    const tooBig = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .send(productBody({ description: 'x'.repeat(2 * 1024 * 1024) }));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toEqual(errorShape('payload_too_large'));

    const badJson = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .set('Content-Type', 'application/json')
      .send('{"name":');
    expect(badJson.status).toBe(400);
    expect(badJson.body).toEqual(errorShape('invalid_json'));

    const media = await api.http().post('/admin/products').set('X-Api-Key', admin).set('Content-Type', 'text/csv').send('a,b');
    expect(media.status).toBe(415);
    expect(media.body).toEqual(errorShape('unsupported_media_type'));
  });

  it('refuses null where a number or an object is required, and keeps null where it means "clear"', async () => {
    const amount = await processPayment(
      api,
      sk,
      processBody(productId, 'tok_visa', { items: [{ name: 'Ad hoc', amount: null, quantity: 1 }] }),
    );
    expect(amount.status).toBe(400);
    expect(amount.body.error).toMatchObject({ param: 'items[0].amount' });

    const method = await processPayment(api, sk, processBody(productId, 'tok_visa', { paymentMethod: null }));
    expect(method.status).toBe(400);
    expect(method.body.error).toMatchObject({ param: 'paymentMethod' });

    const metadata = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .send(productBody({ metadata: null }));
    expect(metadata.status).toBe(400);
    expect(metadata.body.error).toMatchObject({ param: 'metadata' });

    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', admin)
      .send({ code: `NULL${randomBytes(3).toString('hex')}`, type: 'PERCENTAGE', percentOff: 10, maxRedemptions: null });
    expect(coupon.status).toBe(201);
  });
});
