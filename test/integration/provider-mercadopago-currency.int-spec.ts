import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { createProduct, getPayment, newKey, processBody, processPayment, refundPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const ACCESS_TOKEN = 'APP_USR-ars-site-token';

/**
 * A Mercado Pago account whose site currency is not BRL (Argentina: ARS). The currency of what we
 * record comes from the payment Mercado Pago answers (`currency_id`), never an assumed BRL.
 */
describe('Mercado Pago in ARS (the currency is the payment’s own)', () => {
  const emulator = new MercadoPagoEmulator({ accessToken: ACCESS_TOKEN, webhookSecret: 'mp-ars-secret', currencyId: 'ARS' });
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    const base = await emulator.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      MERCADOPAGO_ACCESS_TOKEN: ACCESS_TOKEN,
      MERCADOPAGO_WEBHOOK_SECRET: 'mp-ars-secret',
      MERCADOPAGO_API_BASE: base,
      PROVIDER_ROUTING: 'ARS=mercadopago;*=simulator',
      PROVIDER_TIMEOUT_MS: '2000',
    });
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin, { prices: [{ currency: 'ARS', amount: 1_250_050 }] })).id;
  });
  afterAll(async () => {
    await emulator.idle();
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  it('a direct charge and its refund in ARS are recorded in ARS, in minor units', async () => {
    const tokenRes = await fetch(`${emulator.url}/v1/card_tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        card_number: '5031755734530604',
        expiration_month: '11',
        expiration_year: '2030',
        security_code: '123',
        cardholder: { name: 'APRO', identification: { type: 'DNI', number: '12345678' } },
      }),
    });
    const token = `master:${((await tokenRes.json()) as { id: string }).id}`;
    const res = await processPayment(
      api,
      sk,
      processBody(productId, token, {
        currency: 'ARS',
        customer: { email: 'ars@example.com', name: 'Comprador', country: 'AR' },
        paymentMethod: { provider: 'mercadopago', token },
      }),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 1_250_050, currency: 'ARS', provider: 'mercadopago' });
    const [atMp] = emulator.payments().filter((p) => p.external_reference === res.body.id);
    expect(atMp.currency_id).toBe('ARS');
    expect(atMp.transaction_amount).toBe(12500.5);

    const refund = await refundPayment(api, admin, res.body.id, { amount: 1000 }, newKey());
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({ status: 'succeeded', amount: 1000 });
    expect(await getPayment(api, sk, res.body.id)).toMatchObject({ currency: 'ARS', status: 'partially_refunded', amountRefunded: 1000 });
    const ledger = await api.db.query(`SELECT DISTINCT currency FROM ledger_entries WHERE payment_id = $1`, [res.body.id]);
    expect(ledger.rows).toEqual([{ currency: 'ARS' }]);
  });
});
