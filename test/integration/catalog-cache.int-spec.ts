import type { Socket } from 'node:net';
import type { Client } from 'pg';
import { CacheBus } from '../../src/common/cache/cache-bus';
import { ProductsRepository } from '../../src/products/products.repository';
import { ProductsService } from '../../src/products/products.service';
import type { Product } from '../../src/products/products.types';
import { createProduct, processBody, processPayment } from '../factories/payments';
import { productBody } from '../factories/products';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('catalog and its cross-instance cache (real PostgreSQL)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let pk: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // A long TTL, so only invalidation can explain a fresh read.
    [a, b] = await Promise.all([startTestApp(dbUrl, { CACHE_TTL_SECONDS: '600' }), startTestApp(dbUrl, { CACHE_TTL_SECONDS: '600' })]);
    admin = await a.key('admin');
    pk = await a.key('publishable');
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  async function pollUntil(check: () => Promise<boolean>, withinMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < withinMs) {
      if (await check()) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`condition not met within ${withinMs} ms`);
  }

  const setUsdPrice = (id: string, amount: number) =>
    a
      .http()
      .patch(`/admin/products/${id}`)
      .set('X-Api-Key', admin)
      .send({ prices: [{ currency: 'USD', amount }] })
      .expect(200);

  it('creates, reads, updates and archives a product', async () => {
    const created = await a
      .http()
      .post('/admin/products')
      .set('X-Api-Key', admin)
      .send(productBody({ name: 'Lifecycle', billingType: 'SUBSCRIPTION', interval: 'month' }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Lifecycle',
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      type: 'STANDARD',
      active: true,
    });
    expect(created.body.id).toMatch(/^prod_[A-Za-z0-9]{20}$/);
    expect(created.body.prices).toEqual([
      { currency: 'BRL', amount: 14990, stripePriceId: null },
      { currency: 'USD', amount: 2999, stripePriceId: null },
    ]);

    const patched = await a
      .http()
      .patch(`/admin/products/${created.body.id}`)
      .set('X-Api-Key', admin)
      .send({ description: 'Now described', prices: [{ currency: 'JPY', amount: 500 }] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'Lifecycle',
      description: 'Now described',
      prices: [{ currency: 'JPY', amount: 500, stripePriceId: null }],
    });

    const archived = await a.http().delete(`/admin/products/${created.body.id}`).set('X-Api-Key', admin);
    expect(archived.status).toBe(200);
    expect(archived.body.active).toBe(false);
    expect(archived.body.archivedAt).toBeTruthy();
    expect((await a.http().get(`/products/${created.body.id}`).set('X-Api-Key', pk)).status).toBe(404);
    const listed = await a.http().get('/products?limit=100').set('X-Api-Key', pk);
    expect(listed.body.data.map((p: { id: string }) => p.id)).not.toContain(created.body.id);
    const adminList = await a.http().get('/admin/products?includeArchived=true&limit=100').set('X-Api-Key', admin);
    expect(adminList.body.data.map((p: { id: string }) => p.id)).toContain(created.body.id);
  });

  it('paginates by page and by cursor', async () => {
    for (let i = 0; i < 5; i++) await a.http().post('/admin/products').set('X-Api-Key', admin).send(productBody()).expect(201);
    const first = await a.http().get('/products?limit=2&page=1').set('X-Api-Key', pk);
    expect(first.body).toMatchObject({ hasMore: true, page: 1 });
    expect(first.body.data).toHaveLength(2);
    expect(first.body.total).toBeGreaterThanOrEqual(5);
    const next = await a.http().get(`/products?limit=2&startingAfter=${first.body.data[1].id}`).set('X-Api-Key', pk);
    expect(next.body.data).toHaveLength(2);
    const page2 = await a.http().get('/products?limit=2&page=2').set('X-Api-Key', pk);
    expect(next.body.data.map((p: { id: string }) => p.id)).toEqual(page2.body.data.map((p: { id: string }) => p.id));
  });

  it('shows an admin price change made on one instance on the other within 1 s', async () => {
    const created = await a.http().post('/admin/products').set('X-Api-Key', admin).send(productBody()).expect(201);
    const id = created.body.id;
    const priceOnB = async () =>
      (await b.http().get(`/products/${id}`).set('X-Api-Key', pk)).body.prices.find((p: { currency: string }) => p.currency === 'USD')
        .amount;
    expect(await priceOnB()).toBe(2999); // now cached on B for 10 minutes

    await setUsdPrice(id, 3499);
    await pollUntil(async () => (await priceOnB()) === 3499, 1000);
  });

  it('reads the products of a cart the cache does not hold in one statement', async () => {
    const sk = await a.key('secret');
    // Created first: every catalog write drops the cache of every instance.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await createProduct(a, admin)).id);
    const products = b.app.get(ProductsRepository);
    const spies = [jest.spyOn(products, 'findManyByIds'), jest.spyOn(products, 'findById')];
    const verifyOnB = (cart: string[]) =>
      b
        .http()
        .post('/payments/verify-prices')
        .set('X-Api-Key', sk)
        .send({ products: cart.map((productId) => ({ productId, currency: 'USD', price: 2999, quantity: 1 })) });
    const cart = [ids[0], ids[1], ids[2], ids[0]];
    try {
      expect((await verifyOnB(cart)).body).toEqual({ verified: true, discrepancies: [] });
      expect(spies[0].mock.calls).toEqual([[expect.any(String), ids.slice(0, 3)]]);
      // Now cached: no statement at all.
      expect((await verifyOnB(cart)).body).toEqual({ verified: true, discrepancies: [] });
      expect(spies[0]).toHaveBeenCalledTimes(1);
      // Part of a cart cached: only the rest is read, and an unknown id is a discrepancy, not an error.
      const verdict = await verifyOnB([...cart, ids[3], 'prod_unknown']);
      expect(verdict.body).toMatchObject({ verified: false, discrepancies: [{ productId: 'prod_unknown' }] });
      expect(spies[0].mock.calls[1]).toEqual([expect.any(String), [ids[3], 'prod_unknown']]);
      expect(spies[1]).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('prices payments from the same cache: no catalog statement per payment, and a price changed on one instance is charged on the other', async () => {
    const sk = await a.key('secret');
    const id = (await createProduct(a, admin)).id;
    const payOnB = async () => {
      const res = await processPayment(b, sk, processBody(id, 'tok_visa', { items: [{ productId: id, quantity: 2 }] }));
      expect(res.status).toBe(201);
      return res.body.amount;
    };
    expect(await payOnB()).toBe(2 * 2999);
    const products = b.app.get(ProductsRepository);
    const spies = [jest.spyOn(b.db, 'query'), jest.spyOn(products, 'findById'), jest.spyOn(products, 'findManyByIds')];
    try {
      expect(await payOnB()).toBe(2 * 2999);
      expect(spies[0].mock.calls.filter(([sql]) => sql.includes('FROM products'))).toEqual([]);
      for (const read of spies.slice(1)) expect(read).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }

    await setUsdPrice(id, 3499);
    const verifiedOnB = async (price: number) =>
      (
        await b
          .http()
          .post('/payments/verify-prices')
          .set('X-Api-Key', sk)
          .send({ products: [{ productId: id, currency: 'USD', price, quantity: 1 }] })
      ).body.verified === true;
    await pollUntil(() => verifiedOnB(3499), 1000);
    expect(await payOnB()).toBe(2 * 3499);
  });

  it('drops its own copy again when a change commits: a read between the change and its COMMIT is not kept', async () => {
    const products = a.app.get(ProductsService);
    const bus = a.app.get(CacheBus);
    const id = (await createProduct(a, admin)).id;
    const usd = (found: Product[]) => found[0].prices.find((p) => p.currency === 'USD')?.amount;
    expect(usd(await products.findMany('mer_default', [id]))).toBe(2999);
    // Hold this instance's notifications: only the commit itself can drop the copy.
    const listener = (bus as unknown as { listener: Client }).listener;
    const socket = (listener as unknown as { connection: { stream: Socket } }).connection.stream;
    socket.pause();
    try {
      let go!: () => void;
      // Another request, outside the transaction, reads while the change is not committed yet.
      const readDuringChange = new Promise<void>((resolve) => (go = resolve)).then(() => products.findMany('mer_default', [id]));
      await a.db.transaction(async (tx) => {
        await tx.query(`UPDATE product_prices SET amount = 4444 WHERE product_id = $1 AND currency = 'USD'`, [id]);
        await bus.publish('products', tx);
        go();
        expect(usd(await readDuringChange)).toBe(2999);
      });
      expect(usd(await products.findMany('mer_default', [id]))).toBe(4444);
    } finally {
      socket.resume();
    }
  });

  it('drops every instance cache on POST /admin/cache/invalidate', async () => {
    const created = await a.http().post('/admin/products').set('X-Api-Key', admin).send(productBody()).expect(201);
    const id = created.body.id;
    const nameOnB = async () => (await b.http().get(`/products/${id}`).set('X-Api-Key', pk)).body.name;
    const original = await nameOnB();
    // A change behind the application's back: only an invalidation makes B see it.
    await a.db.query(`UPDATE products SET name = 'Renamed in SQL' WHERE id = $1`, [id]);
    expect(await nameOnB()).toBe(original);

    const res = await a.http().post('/admin/cache/invalidate?entity=products').set('X-Api-Key', admin);
    expect(res.status).toBe(200);
    await pollUntil(async () => (await nameOnB()) === 'Renamed in SQL', 1000);

    const bad = await a.http().post('/admin/cache/invalidate?entity=everything').set('X-Api-Key', admin);
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('entity');
  });
});
