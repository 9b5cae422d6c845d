import { productBody } from '../factories/products';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('request validation and errors (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let admin: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    admin = await api.key('admin');
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const productCount = async () => (await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM products')).rows[0].n;

  it.each([
    ['a missing field', { prices: [{ currency: 'USD', amount: 100 }] }, 'name'],
    ['an unknown field', productBody({ colour: 'red' }), 'colour'],
    ['a float price', productBody({ prices: [{ currency: 'USD', amount: 10.5 }] }), 'prices[0].amount'],
    ['a negative price', productBody({ prices: [{ currency: 'USD', amount: -1 }] }), 'prices[0].amount'],
    ['a lower-case currency', productBody({ prices: [{ currency: 'usd', amount: 100 }] }), 'prices[0].currency'],
    ['an unknown currency', productBody({ prices: [{ currency: 'XYZ', amount: 100 }] }), 'prices[0].currency'],
    [
      'a repeated currency',
      productBody({
        prices: [
          { currency: 'USD', amount: 1 },
          { currency: 'USD', amount: 2 },
        ],
      }),
      'prices[1].currency',
    ],
    ['a subscription without interval', productBody({ billingType: 'SUBSCRIPTION' }), 'interval'],
    ['no prices', productBody({ prices: [] }), 'prices'],
  ])('answers 400 naming the field for %s, and writes nothing', async (_, body, param) => {
    const before = await productCount();
    const res = await api.http().post('/admin/products').set('X-Api-Key', admin).set('Idempotency-Key', `v-${param}`).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(res.body.error.requestId).toBeTruthy();
    expect(await productCount()).toBe(before);
    // A rejected request leaves its idempotency key free: nothing was executed.
    const { rows } = await api.db.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [`v-${param}`]);
    expect(rows).toHaveLength(0);
  });

  it('answers 413 for a 2 MB body and 400 for malformed JSON, writing nothing', async () => {
    const before = await productCount();
    const big = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(productBody({ description: 'x'.repeat(2 * 1024 * 1024) })));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ type: 'invalid_request_error', code: 'payload_too_large' });
    expect(big.body.error.requestId).toBeTruthy();

    const malformed = await api
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .set('Content-Type', 'application/json')
      .send('{"name": "x",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    expect(await productCount()).toBe(before);
  });

  it('answers 400 for bad pagination and 404 for unknown products and routes', async () => {
    const pk = await api.key('publishable');
    const limit = await api.http().get('/products?limit=500').set('X-Api-Key', pk);
    expect(limit.status).toBe(400);
    expect(limit.body.error.param).toBe('limit');
    const missing = await api.http().get('/products/prod_nope').set('X-Api-Key', pk);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
    const route = await api.http().get('/nope').set('X-Api-Key', pk);
    expect(route.status).toBe(404);
    expect(route.body.error.type).toBe('invalid_request_error');
  });

  it('sets security headers', async () => {
    const res = await api.http().get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
