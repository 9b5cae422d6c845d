import { checkoutBody, createCheckout, createProduct, processBody, processPayment, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('customers, found or created by email with each payment (real PostgreSQL)', () => {
  let dbUrl: string;
  let a: TestApp;
  let b: TestApp;
  let sk: string;
  let pk: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    [a, b] = await Promise.all([startTestApp(dbUrl), startTestApp(dbUrl)]);
    sk = await a.key('secret');
    pk = await a.key('publishable');
    productId = (await createProduct(a, await a.key('admin'))).id;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await dropDatabase(dbUrl);
  });

  const customersWith = async (email: string) =>
    (
      await a.db.query<{ id: string; name: string | null; country: string | null }>(
        `SELECT id, name, country FROM customers WHERE email = $1`,
        [email.toLowerCase()],
      )
    ).rows;

  it('twenty concurrent first payments of a new email (two instances) make one customer, which every payment names', async () => {
    const email = uniqueEmail();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        processPayment(i % 2 ? a : b, sk, processBody(productId, 'tok_visa', { customer: { email, name: 'Racer' } })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const [customer, ...others] = await customersWith(email);
    expect(others).toEqual([]);
    expect(new Set(results.map((r) => r.body.customer.id))).toEqual(new Set([customer.id]));
    const { rows } = await a.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments WHERE customer_id = $1`, [customer.id]);
    expect(rows[0].n).toBe(20);
  });

  it('fills in name and country when given, keeps them when not, and matches the email whatever its case', async () => {
    const email = uniqueEmail();
    const pay = async (customer: Record<string, unknown>) => {
      const res = await processPayment(a, sk, processBody(productId, 'tok_visa', { customer }));
      expect(res.status).toBe(201);
      return res.body.customer;
    };
    const first = await pay({ email });
    expect(await customersWith(email)).toEqual([{ id: first.id, name: null, country: null }]);
    expect(await pay({ email: email.toUpperCase(), name: 'Ada', country: 'GB' })).toEqual({ id: first.id, email });
    expect(await customersWith(email)).toEqual([{ id: first.id, name: 'Ada', country: 'GB' }]);
    await pay({ email, name: 'Ada Lovelace' });
    expect(await customersWith(email)).toEqual([{ id: first.id, name: 'Ada Lovelace', country: 'GB' }]);
    await pay({ email });
    expect(await customersWith(email)).toEqual([{ id: first.id, name: 'Ada Lovelace', country: 'GB' }]);
  });

  it('a declined payment and a checkout session name the same customer as a direct payment', async () => {
    const email = uniqueEmail();
    const paid = await processPayment(a, sk, processBody(productId, 'tok_visa', { customer: { email } }));
    const declined = await processPayment(a, sk, processBody(productId, 'tok_chargeDeclined', { customer: { email } }));
    expect(declined.status).toBe(402);
    const session = await createCheckout(a, pk, checkoutBody(productId, { customer: { email: email.toUpperCase(), country: 'BR' } }));
    expect(session.status).toBe(201);
    const [customer] = await customersWith(email);
    expect(paid.body.customer.id).toBe(customer.id);
    expect(session.body.customer).toEqual({ id: customer.id, email });
    expect(customer.country).toBe('BR');
    const { rows } = await a.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments WHERE customer_id = $1`, [customer.id]);
    expect(rows[0].n).toBe(3);
  });
});
