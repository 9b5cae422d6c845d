import { randomBytes } from 'node:crypto';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { createCheckout, createProduct, ledgerTotals, processBody, processPayment, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();

// Selling in a currency through a stored rate (src/fx): the admin routes, cart pricing through process
// and checkout, verify-prices, and every refusal with nothing written. Rates are per merchant and pair:
// each case below uses its own quote currency, so the cases do not depend on one another.
describe('currency conversion through stored rates (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;
  let admin: string;
  let sk: string;
  let pk: string;
  let usdOnly: string; // USD 19.99, allowConversion
  let usdOnlyNotAllowed: string; // USD 19.99
  let usdAndBrl: string; // USD 29.99, BRL 149.90, allowConversion

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    // 6 hours, not the default 24: the stale case below (7 hours) passes only if the setting is read.
    api = await startTestApp(dbUrl, { FX_MAX_AGE_HOURS: '6' });
    [admin, sk, pk] = await Promise.all([api.key('admin'), api.key('secret'), api.key('publishable')]);
    const usd = [{ currency: 'USD', amount: 1999 }];
    [usdOnly, usdOnlyNotAllowed, usdAndBrl] = (
      await Promise.all([
        createProduct(api, admin, { prices: usd, allowConversion: true }),
        createProduct(api, admin, { prices: usd }),
        createProduct(api, admin, { allowConversion: true }),
      ])
    ).map((p) => p.id);
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const putRate = (pair: string, body: Record<string, unknown>, key = admin) =>
    api.http().put(`/admin/fx-rates/${pair}`).set('X-Api-Key', key).send(body);
  const setRate = async (pair: string, rate: string, asOf = new Date().toISOString(), source = 'ecb') => {
    const res = await putRate(pair, { rate, source, asOf });
    if (res.status !== 200) throw new Error(`rate ${pair} refused: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const process = (currency: string, items: Array<{ productId: string; quantity: number }>, key = sk) =>
    processPayment(api, key, { ...processBody(items[0].productId, 'tok_visa'), items, currency });
  const counts = async () =>
    (
      await api.db.query<{ payments: number; customers: number; rates: number }>(
        `SELECT (SELECT count(*)::int FROM payments) AS payments, (SELECT count(*)::int FROM customers) AS customers,
                (SELECT count(*)::int FROM fx_rates) AS rates`,
      )
    ).rows[0];

  describe('admin routes', () => {
    it('PUT sets a pair (rate as an exact, canonical decimal string), GET reads it and lists by pair; PUT again replaces', async () => {
      const asOf = hoursAgo(1);
      const res = await putRate('GBP-EUR', { rate: '01.16500', source: 'ecb', asOf });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ pair: 'GBP-EUR', base: 'GBP', quote: 'EUR', rate: '1.165', source: 'ecb', asOf });
      expect(new Date(res.body.expiresAt).getTime() - new Date(asOf).getTime()).toBe(6 * 3_600_000);
      const stored = await api.db.query(`SELECT rate::text AS rate FROM fx_rates WHERE base_currency = 'GBP' AND quote_currency = 'EUR'`);
      expect(stored.rows).toEqual([{ rate: '1.165' }]);

      await setRate('GBP-EUR', '1.1712345678', undefined, 'bank');
      const got = await api.http().get('/admin/fx-rates/GBP-EUR').set('X-Api-Key', admin).expect(200);
      expect(got.body).toMatchObject({ pair: 'GBP-EUR', rate: '1.1712345678', source: 'bank' });

      await setRate('AUD-EUR', '0.61');
      const list = await api.http().get('/admin/fx-rates?limit=100').set('X-Api-Key', admin).expect(200);
      const pairs = list.body.data.map((r: { pair: string }) => r.pair);
      expect(pairs).toEqual([...pairs].sort());
      expect(pairs).toEqual(expect.arrayContaining(['AUD-EUR', 'GBP-EUR']));
      const after = await api.http().get('/admin/fx-rates?startingAfter=AUD-EUR&limit=1').set('X-Api-Key', admin).expect(200);
      expect(after.body.data[0].pair > 'AUD-EUR').toBe(true);
    });

    it('refuses a bad pair or rate with 400 naming the field, and writes nothing', async () => {
      const before = await counts();
      const good = { rate: '5.4321', source: 'ecb' };
      for (const pair of ['usd-brl', 'USD-USD', 'USD-XXX', 'USDBRL', 'USD-BRL-EUR', 'XAU-USD']) {
        const res = await putRate(pair, good);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid', param: 'pair' });
      }
      for (const rate of [5.4321, '0', '0.0', '-1', '1e3', 'abc', '1234567890123', '1.0000000000001']) {
        const res = await putRate('USD-ZAR', { rate, source: 'ecb' });
        expect(res.status).toBe(400);
        expect(res.body.error.param).toBe('rate');
      }
      expect((await putRate('USD-ZAR', { rate: '18.2' })).body.error.param).toBe('source');
      expect((await putRate('USD-ZAR', { ...good, asOf: 'yesterday' })).body.error.param).toBe('asOf');
      const future = new Date(Date.now() + 3_600_000).toISOString();
      expect((await putRate('USD-ZAR', { ...good, asOf: future })).body.error).toMatchObject({ code: 'parameter_invalid', param: 'asOf' });
      expect((await api.http().get('/admin/fx-rates/usd-brl').set('X-Api-Key', admin)).status).toBe(400);
      expect((await api.http().get('/admin/fx-rates/USD-ZAR').set('X-Api-Key', admin)).status).toBe(404);
      expect((await putRate('USD-ZAR', good, sk)).status).toBe(403);
      expect((await api.http().get('/admin/fx-rates').set('X-Api-Key', sk)).status).toBe(403);
      expect(await counts()).toEqual(before);
    });

    it('allowConversion is part of the product, off by default, changed by PATCH', async () => {
      const created = await api.http().get(`/admin/products/${usdOnlyNotAllowed}`).set('X-Api-Key', admin).expect(200);
      expect(created.body.allowConversion).toBe(false);
      const product = await createProduct(api, admin, { prices: [{ currency: 'USD', amount: 100 }] });
      const patched = await api.http().patch(`/admin/products/${product.id}`).set('X-Api-Key', admin).send({ allowConversion: true });
      expect(patched.body.allowConversion).toBe(true);
      const read = await api.http().get(`/products/${product.id}`).set('X-Api-Key', pk).expect(200);
      expect(read.body.allowConversion).toBe(true);
    });
  });

  describe('buying in a currency the product has no price in', () => {
    it('process: a USD-only product bought in BRL is charged the documented conversion, and the rate is stored on the payment', async () => {
      const asOf = hoursAgo(2);
      await setRate('USD-BRL', '5.4321', asOf);
      const res = await process('BRL', [{ productId: usdOnly, quantity: 2 }]);
      expect(res.status).toBe(201);
      // 1999 × 5.4321 = 10858.7679 centavos → 10859 (half-up) per unit; × 2.
      const fx = { pair: 'USD-BRL', rate: '5.4321', source: 'ecb', asOf };
      expect(res.body).toMatchObject({ status: 'succeeded', currency: 'BRL', amount: 21718, fx });
      expect(res.body.lines).toEqual([
        expect.objectContaining({
          productId: usdOnly,
          unitAmount: 10859,
          quantity: 2,
          amount: 21718,
          convertedFrom: { currency: 'USD', unitAmount: 1999 },
        }),
      ]);
      const stored = await api.db.query('SELECT amount, currency, fx FROM payments WHERE id = $1', [res.body.id]);
      expect(stored.rows[0]).toEqual({ amount: 21718, currency: 'BRL', fx });
      const read = await api.http().get(`/transactions/${res.body.id}`).set('X-Api-Key', sk).expect(200);
      expect(read.body.fx).toEqual(fx);
      const ledger = await ledgerTotals(api, 'BRL');
      expect(ledger.debits).toBe(ledger.credits);

      // A new rate later: the payment keeps the one it was priced with.
      await setRate('USD-BRL', '6.01');
      expect((await api.http().get(`/transactions/${res.body.id}`).set('X-Api-Key', sk)).body.fx).toEqual(fx);
      const next = await process('BRL', [{ productId: usdOnly, quantity: 1 }]);
      expect(next.body).toMatchObject({ amount: 12014, fx: { pair: 'USD-BRL', rate: '6.01' } }); // 1999 × 6.01 = 12013.99
    });

    it('checkout: the session is priced the same way and its payment carries the rate; verify-prices agrees', async () => {
      await setRate('USD-MXN', '17.0355');
      const session = await createCheckout(api, pk, {
        items: [{ productId: usdOnly, quantity: 3 }],
        currency: 'MXN',
        customer: { email: uniqueEmail() },
        successUrl: 'https://shop.example.com/ok',
        cancelUrl: 'https://shop.example.com/cancel',
      });
      expect(session.status).toBe(201);
      // 1999 × 17.0355 = 34053.9645 → 34054 per unit.
      expect(session.body).toMatchObject({ currency: 'MXN', subtotal: 102162, total: 102162 });
      const payment = await api.http().get(`/transactions/${session.body.paymentId}`).set('X-Api-Key', sk).expect(200);
      expect(payment.body).toMatchObject({ status: 'pending', amount: 102162, fx: { pair: 'USD-MXN', rate: '17.0355', source: 'ecb' } });

      const verify = (price: number) =>
        api
          .http()
          .post('/payments/verify-prices')
          .set('X-Api-Key', pk)
          .send({ products: [{ productId: usdOnly, price, quantity: 1, currency: 'MXN' }] })
          .expect(200);
      expect((await verify(34054)).body).toEqual({ verified: true, discrepancies: [] });
      expect((await verify(34053)).body.discrepancies).toEqual([{ productId: usdOnly, expectedPrice: 34054, providedPrice: 34053 }]);
    });

    it('into currencies of exponent 0 and 3: JPY and KWD', async () => {
      await setRate('USD-JPY', '151.37');
      await setRate('USD-KWD', '0.30755');
      const jpy = await process('JPY', [{ productId: usdOnly, quantity: 1 }]);
      expect(jpy.body).toMatchObject({ status: 'succeeded', currency: 'JPY', amount: 3026 }); // 3025.8863 yen
      const kwd = await process('KWD', [{ productId: usdOnly, quantity: 1 }]);
      expect(kwd.body).toMatchObject({ status: 'succeeded', currency: 'KWD', amount: 6148 }); // 19.99 × 0.30755 = 6.1479245 KWD
    });

    it('a line with a price in the currency keeps it; only the others are converted', async () => {
      await setRate('USD-BRL', '5');
      const res = await process('BRL', [
        { productId: usdAndBrl, quantity: 1 },
        { productId: usdOnly, quantity: 1 },
      ]);
      expect(res.status).toBe(201);
      expect(res.body.lines.map((l: { unitAmount: number; convertedFrom?: unknown }) => [l.unitAmount, l.convertedFrom ?? null])).toEqual([
        [14990, null],
        [9995, { currency: 'USD', unitAmount: 1999 }],
      ]);
      expect(res.body).toMatchObject({ amount: 24985, fx: { pair: 'USD-BRL', rate: '5' } });
      const native = await process('BRL', [{ productId: usdAndBrl, quantity: 1 }]);
      expect(native.body).toMatchObject({ amount: 14990, fx: null });
    });

    it('a coupon discounts the converted lines: validate and process agree', async () => {
      await setRate('USD-PLN', '4.0321'); // 1999 × 4.0321 = 8060.1679 → 8060
      const code = `FX${Date.now()}`;
      await api.http().post('/admin/coupons').set('X-Api-Key', admin).send({ code, type: 'PERCENTAGE', percentOff: 10 }).expect(201);
      const items = [{ productId: usdOnly, quantity: 1 }];
      const validated = await api.http().post('/coupons/validate').set('X-Api-Key', pk).send({ code, items, currency: 'PLN' });
      expect(validated.body).toMatchObject({ currency: 'PLN', subtotal: 8060, discount: 806, total: 7254 });
      const paid = await processPayment(api, sk, { ...processBody(usdOnly, 'tok_visa'), items, currency: 'PLN', couponCode: code });
      expect(paid.body).toMatchObject({ status: 'succeeded', amount: 7254, discount: 806, fx: { pair: 'USD-PLN', rate: '4.0321' } });
    });

    it('the freshest usable rate among the currencies the product has prices in is the one used', async () => {
      const both = await createProduct(api, admin, {
        prices: [
          { currency: 'USD', amount: 1000 },
          { currency: 'EUR', amount: 900 },
        ],
        allowConversion: true,
      });
      await setRate('USD-CAD', '1.4', hoursAgo(3));
      await setRate('EUR-CAD', '1.5', hoursAgo(1));
      const res = await process('CAD', [{ productId: both.id, quantity: 1 }]);
      expect(res.body).toMatchObject({ amount: 1350, fx: { pair: 'EUR-CAD', rate: '1.5' } });
    });
  });

  it("rates are the merchant's own: another merchant neither sees them nor converts through them", async () => {
    await setRate('USD-BRL', '5.4321');
    const other = `mer_${randomBytes(6).toString('hex')}`;
    await api.db.query(`INSERT INTO merchants (id, name) VALUES ($1, 'Other')`, [other]);
    const keys = api.app.get(ApiKeysService);
    const [otherAdmin, otherSecret] = [(await keys.create(other, 'admin')).secret, (await keys.create(other, 'secret')).secret];
    expect((await api.http().get('/admin/fx-rates/USD-BRL').set('X-Api-Key', otherAdmin)).status).toBe(404);
    expect((await api.http().get('/admin/fx-rates').set('X-Api-Key', otherAdmin)).body.data).toEqual([]);
    const product = await createProduct(api, otherAdmin, { prices: [{ currency: 'USD', amount: 1999 }], allowConversion: true });
    const res = await process('BRL', [{ productId: product.id, quantity: 1 }], otherSecret);
    expect(res.body.error).toMatchObject({ code: 'fx_rate_unavailable' });
    await api.http().put('/admin/fx-rates/USD-BRL').set('X-Api-Key', otherAdmin).send({ rate: '5', source: 'manual' }).expect(200);
    expect((await process('BRL', [{ productId: product.id, quantity: 1 }], otherSecret)).body).toMatchObject({ amount: 9995 });
    expect((await api.http().get('/admin/fx-rates/USD-BRL').set('X-Api-Key', admin)).body.rate).toBe('5.4321');
  });

  describe('refusals: 422, nothing written', () => {
    async function refused(
      currency: string,
      items: Array<{ productId: string; quantity: number }>,
      code: string,
      param = 'items[0].productId',
    ) {
      const before = await counts();
      const res = await process(currency, items);
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code, param });
      expect(await counts()).toEqual(before);
      return res.body.error.message as string;
    }

    it('a rate older than FX_MAX_AGE_HOURS: fx_rate_stale (process, checkout; verify-prices expects nothing)', async () => {
      await setRate('USD-CHF', '0.88', hoursAgo(7));
      expect(await refused('CHF', [{ productId: usdOnly, quantity: 1 }], 'fx_rate_stale')).toContain('USD-CHF');
      const before = await counts();
      const session = await createCheckout(api, pk, {
        items: [{ productId: usdOnly, quantity: 1 }],
        currency: 'CHF',
        customer: { email: uniqueEmail() },
        successUrl: 'https://shop.example.com/ok',
        cancelUrl: 'https://shop.example.com/cancel',
      });
      expect(session.status).toBe(422);
      expect(session.body.error.code).toBe('fx_rate_stale');
      expect(await counts()).toEqual(before);
      const verify = await api
        .http()
        .post('/payments/verify-prices')
        .set('X-Api-Key', pk)
        .send({ products: [{ productId: usdOnly, price: 1759, quantity: 1, currency: 'CHF' }] })
        .expect(200);
      expect(verify.body.discrepancies).toEqual([{ productId: usdOnly, expectedPrice: null, providedPrice: 1759 }]);
      // A fresh rate for the pair makes the same purchase go through.
      await setRate('USD-CHF', '0.88');
      expect((await process('CHF', [{ productId: usdOnly, quantity: 1 }])).body).toMatchObject({ amount: 1759 }); // 1759.12
    });

    it('no stored rate into the currency: fx_rate_unavailable', async () => {
      expect(await refused('SEK', [{ productId: usdOnly, quantity: 1 }], 'fx_rate_unavailable')).toContain('USD-SEK');
    });

    it('converted products that share no price currency cannot be priced through one rate: fx_rate_unavailable', async () => {
      const eurOnly = await createProduct(api, admin, { prices: [{ currency: 'EUR', amount: 500 }], allowConversion: true });
      await setRate('USD-NOK', '10.9');
      await setRate('EUR-NOK', '11.7');
      const items = [
        { productId: eurOnly.id, quantity: 1 },
        { productId: usdOnly, quantity: 1 },
      ];
      // The first line that asks for a conversion is the one named.
      expect(await refused('NOK', items, 'fx_rate_unavailable', 'items[0].productId')).toContain('share no price currency');
    });

    it('a product that does not allow conversion: price_unavailable as before, even with a rate stored', async () => {
      await setRate('USD-BRL', '5.4321');
      await refused('BRL', [{ productId: usdOnlyNotAllowed, quantity: 1 }], 'price_unavailable');
    });
  });
});
