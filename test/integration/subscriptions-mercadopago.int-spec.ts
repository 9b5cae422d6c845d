import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { createProduct, ledgerTotals, processBody, processPayment, uniqueEmail } from '../factories/payments';
import { advance, getSubscription, invoicesOf, newMerchant, subscriptionEvents, SubscriptionBody } from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const ACCESS_TOKEN = 'TEST-8837-subscriptions';

/**
 * A subscription bought through Mercado Pago (`managedBy: "paybridge"`): Paybridge's renewal job charges
 * the card saved at Mercado Pago, through the real mercadopago SDK against the emulator.
 */
describe('subscriptions through Mercado Pago (renewed by Paybridge, mercadopago SDK, emulator)', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: 'mp-subs', accessToken: ACCESS_TOKEN });
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    const base = await emulator.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      TEST_CLOCK_ENABLED: 'true',
      MERCADOPAGO_ACCESS_TOKEN: ACCESS_TOKEN,
      MERCADOPAGO_WEBHOOK_SECRET: 'mp-subs',
      MERCADOPAGO_API_BASE: base,
      PROVIDER_ROUTING: 'BRL=mercadopago;*=simulator',
      PROVIDER_TIMEOUT_MS: '2000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/mercadopago`;
  });
  afterAll(async () => {
    await emulator.idle();
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  /** A card token as MercadoPago.js makes one in the browser, in our `<method>:<token>` form. */
  const cardToken = async (): Promise<string> => {
    const res = await fetch(`${emulator.url}/v1/card_tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        card_number: '5031433215406351',
        expiration_month: '11',
        expiration_year: '2030',
        security_code: '123',
        cardholder: { name: 'APRO', identification: { type: 'CPF', number: '12345678909' } },
      }),
    });
    return `master:${((await res.json()) as { id: string }).id}`;
  };

  it('a monthly BRL plan: three renewals charged on the saved Mercado Pago card, three paid invoices, ledger balanced', async () => {
    const m = await newMerchant(api);
    const plan = await createProduct(api, m.admin, {
      billingType: 'SUBSCRIPTION',
      interval: 'month',
      prices: [{ currency: 'BRL', amount: 4990 }],
    });
    const email = uniqueEmail();
    const token = await cardToken();
    const res = await processPayment(
      api,
      m.sk,
      processBody(plan.id, token, {
        currency: 'BRL',
        customer: { email, name: 'Ana Souza' },
        paymentMethod: { provider: 'mercadopago', token },
      }),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 4990, provider: 'mercadopago' });
    const list = await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', m.sk);
    const [sub] = list.body.data as SubscriptionBody[];
    expect(sub).toMatchObject({ status: 'active', managedBy: 'paybridge', provider: 'mercadopago', amount: 4990, currency: 'BRL' });

    const before = await ledgerTotals(api, 'BRL');
    const chargesBefore = emulator.payments().length;
    for (let period = 0; period < 3; period++) await advance(api, m.admin, 31);

    // Three more payments at Mercado Pago, each on the saved card (payer type customer), for the plan's price.
    const renewals = emulator.payments().slice(chargesBefore);
    expect(renewals).toHaveLength(3);
    for (const p of renewals) {
      expect(p).toMatchObject({ status: 'approved', transaction_amount: 49.9, currency_id: 'BRL' });
      expect(p.payer).toMatchObject({ type: 'customer' });
    }
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status, i.amount])).toEqual([
      ['first', 'paid', 4990],
      ['renewal', 'paid', 4990],
      ['renewal', 'paid', 4990],
      ['renewal', 'paid', 4990],
    ]);
    const { rows: payments } = await api.db.query(
      `SELECT status, amount, provider FROM payments WHERE merchant_id = $1 ORDER BY created_at`,
      [m.id],
    );
    expect(payments).toEqual(Array.from({ length: 4 }, () => ({ status: 'succeeded', amount: 4990, provider: 'mercadopago' })));
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active', currentPeriodEnd: invoices[3].periodEnd });
    expect(await subscriptionEvents(api, sub.id)).toEqual([
      'subscription.activated',
      'subscription.renewed',
      'subscription.renewed',
      'subscription.renewed',
    ]);
    const totals = await ledgerTotals(api, 'BRL');
    expect(totals.debits).toBe(totals.credits);
    expect(Number(totals.credits) - Number(before.credits)).toBe(3 * 4990);
  });
});
