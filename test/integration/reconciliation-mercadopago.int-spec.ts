import { randomUUID } from 'node:crypto';
import { MercadoPagoConfig, Payment, PaymentRefund } from 'mercadopago';
import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { createProduct, getPayment, processBody, processPayment, refundPayment } from '../factories/payments';
import { dbNow, discrepancies, ledgerBalanced, reconcile, strayChargeSuspense } from '../factories/reconciliation';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const ACCESS_TOKEN = 'TEST-8837-112233-emulator';
const WEBHOOK_SECRET = 'mp-webhook-secret-reconciliation';

/** Reconciliation against Mercado Pago: the mercadopago SDK searches its emulator's payments by date, real PostgreSQL. */
describe('reconciliation against Mercado Pago (mercadopago SDK against its emulator, real PostgreSQL)', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: WEBHOOK_SECRET, accessToken: ACCESS_TOKEN });
  /** The SDK as someone working in Mercado Pago's dashboard would use it, behind Paybridge's back. */
  const dashboard = new MercadoPagoConfig({ accessToken: ACCESS_TOKEN });
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
      MERCADOPAGO_WEBHOOK_SECRET: WEBHOOK_SECRET,
      MERCADOPAGO_API_BASE: base,
      PROVIDER_ROUTING: 'BRL=mercadopago;*=simulator',
      PROVIDER_TIMEOUT_MS: '2000',
      CIRCUIT_FAILURE_THRESHOLD: '1000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/mercadopago`;
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin, { prices: [{ currency: 'BRL', amount: 8000 }] })).id;
  });
  afterAll(async () => {
    await emulator.idle();
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  /** A card token as MercadoPago.js makes one (the cardholder name picks the outcome: APRO, CONT, OTHE). */
  const cardToken = async (cardholderName: string): Promise<string> => {
    const res = await fetch(`${emulator.url}/v1/card_tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        card_number: '5031433215406351',
        expiration_month: '11',
        expiration_year: '2030',
        security_code: '123',
        cardholder: { name: cardholderName, identification: { type: 'CPF', number: '12345678909' } },
      }),
    });
    return ((await res.json()) as { id: string }).id;
  };
  const pay = async (cardholderName = 'APRO', status = 201) => {
    const token = `master:${await cardToken(cardholderName)}`;
    const res = await processPayment(
      api,
      sk,
      processBody(productId, token, { currency: 'BRL', paymentMethod: { provider: 'mercadopago', token } }),
    );
    expect(res.status).toBe(status);
    await emulator.idle();
    await drainWebhooks(api);
    return res.body as { id: string; providerRef: string; status: string };
  };
  /** Whatever happens at Mercado Pago inside `fn` sends no notification to Paybridge. */
  const notificationsLost = async <T>(fn: () => Promise<T>): Promise<T> => {
    emulator.notificationsLost = true;
    try {
      return await fn();
    } finally {
      emulator.notificationsLost = false;
    }
  };

  let cleanTo: Date;

  it('a clean day yields zero discrepancies', async () => {
    const from = await dbNow(api);
    await pay();
    const refunded = await pay();
    expect((await refundPayment(api, admin, refunded.id, { amount: 2500 })).status).toBe(201);
    await pay('OTHE', 402); // declined there, failed here
    await emulator.idle();
    await drainWebhooks(api);
    cleanTo = await dbNow(api);
    const run = await reconcile(api, admin, 'mercadopago', from, cleanTo);
    expect(run).toMatchObject({
      status: 'completed',
      provider: 'mercadopago',
      counts: { checked: 3, matched: 3, discrepancies: 0, healed: 0 },
    });
  });

  it('finds every planted discrepancy once (the chargeback through its search by payment), heals only the lost success and refund notifications, books the stray payment to suspense; a second run finds nothing new', async () => {
    const from = cleanTo;
    await pay(); // one that matches
    // A lost success notification: under review at Mercado Pago (CONT), approved later, never notified.
    const lost = await pay('CONT');
    expect(lost.status).toBe('processing');
    const lostRef = emulator.payments().find((p) => p.external_reference === lost.id)?.id as number;
    await notificationsLost(() => emulator.settlePayment(lostRef, 'approved'));
    // A lost refund notification: refunded in Mercado Pago's dashboard.
    const refundedThere = await pay();
    await notificationsLost(() => new PaymentRefund(dashboard).create({ payment_id: refundedThere.providerRef, body: { amount: 30 } }));
    // A payment made at Mercado Pago that no payment here accounts for.
    const stray = await notificationsLost(async () =>
      new Payment(dashboard).create({
        body: {
          transaction_amount: 42,
          token: await cardToken('APRO'),
          payment_method_id: 'master',
          installments: 1,
          payer: { email: 'stray@example.com' },
        },
        requestOptions: { idempotencyKey: randomUUID() },
      }),
    );
    expect(stray.status).toBe('approved');
    // An amount changed at Mercado Pago.
    const changed = await pay();
    emulator.setTransactionAmount(Number(changed.providerRef), 81);
    // A payment that Mercado Pago does not know.
    const unknown = await pay();
    emulator.forgetPayment(Number(unknown.providerRef));
    // A chargeback whose notification never came.
    const disputed = await pay();
    const chargeback = await notificationsLost(() => emulator.createChargeback(disputed.providerRef));
    await emulator.idle();
    const to = await dbNow(api);
    expect(await ledgerBalanced(api, admin, 'BRL')).toBe(true);

    const run = await reconcile(api, admin, 'mercadopago', from, to);
    expect(run).toMatchObject({ status: 'completed', counts: { checked: 7, matched: 2, discrepancies: 6, healed: 2 } });
    const found = await discrepancies(api, admin, `runId=${run.id}`);
    const byKind = Object.fromEntries(found.map((d) => [d.kind, d]));
    expect(Object.keys(byKind).sort()).toEqual([
      'amount_mismatch',
      'dispute_unrecorded',
      'missing_at_provider',
      'missing_locally',
      'refund_mismatch',
      'status_mismatch',
    ]);
    expect(byKind.dispute_unrecorded).toMatchObject({
      status: 'open',
      paymentId: disputed.id,
      providerRef: String(chargeback.id),
      actual: { chargeRef: disputed.providerRef, amount: 8000, currency: 'BRL', status: 'needs_response' },
    });
    expect(byKind.status_mismatch).toMatchObject({
      status: 'healed',
      paymentId: lost.id,
      providerRef: String(lostRef),
      expected: { status: 'processing', amount: 8000, currency: 'BRL' },
      actual: { status: 'succeeded', amount: 8000 },
    });
    expect(byKind.refund_mismatch).toMatchObject({
      status: 'healed',
      paymentId: refundedThere.id,
      expected: { amountRefunded: 0 },
      actual: { amountRefunded: 3000 },
    });
    expect(byKind.missing_locally).toMatchObject({
      status: 'open',
      paymentId: null,
      providerRef: String(stray.id),
      actual: { amount: 4200, currency: 'BRL' },
    });
    expect(byKind.amount_mismatch).toMatchObject({
      status: 'open',
      paymentId: changed.id,
      expected: { amount: 8000 },
      actual: { amount: 8100 },
    });
    expect(byKind.missing_at_provider).toMatchObject({ status: 'open', paymentId: unknown.id, providerRef: unknown.providerRef });

    expect(await getPayment(api, sk, lost.id)).toMatchObject({ status: 'succeeded' });
    expect(await getPayment(api, sk, refundedThere.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 3000 });
    expect(await getPayment(api, sk, changed.id)).toMatchObject({ status: 'succeeded', amount: 8000 });
    expect(await strayChargeSuspense(api, byKind.missing_locally.id)).toEqual([{ direction: 'credit', amount: 4200, currency: 'BRL' }]);
    expect(await ledgerBalanced(api, admin, 'BRL')).toBe(true);

    const again = await reconcile(api, admin, 'mercadopago', from, to);
    expect(again).toMatchObject({ status: 'completed', counts: { checked: 7, matched: 4, discrepancies: 0, healed: 0 } });
    expect(await strayChargeSuspense(api, byKind.missing_locally.id)).toHaveLength(1);
    expect(await ledgerBalanced(api, admin, 'BRL')).toBe(true);
  });
});
