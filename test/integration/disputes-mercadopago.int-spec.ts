import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { createProduct, processBody, processPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const ACCESS_TOKEN = 'TEST-8837-112233-emulator';
const WEBHOOK_SECRET = 'mp-webhook-secret-disputes';

/** Mercado Pago chargebacks: the notification names only the chargeback, fetched through the SDK before use. */
describe('disputes at Mercado Pago (mercadopago SDK against its emulator, real PostgreSQL)', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: WEBHOOK_SECRET, accessToken: ACCESS_TOKEN });
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
    });
    emulator.webhookUrl = `${api.url}/webhooks/mercadopago`;
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await emulator.idle();
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  const approvedPayment = async () => {
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
    const token = `master:${((await res.json()) as { id: string }).id}`;
    const paid = await processPayment(
      api,
      sk,
      processBody(productId, token, { currency: 'BRL', paymentMethod: { provider: 'mercadopago', token } }),
    );
    expect(paid.status).toBe(201);
    expect(paid.body.status).toBe('succeeded');
    await drainWebhooks(api);
    return { id: paid.body.id as string, providerRef: paid.body.providerRef as string, amount: paid.body.amount as number };
  };

  const disputeOf = async (paymentId: string) => {
    const res = await api.http().get('/disputes').query({ paymentId }).set('X-Api-Key', sk);
    expect(res.status).toBe(200);
    return res.body.data as Array<Record<string, unknown> & { id: string; status: string }>;
  };

  const disputePostings = async (paymentId: string) => {
    const { rows } = await api.db.query<{ kind: string; lines: number; debits: number }>(
      `SELECT kind, count(*)::int AS lines, sum(amount) FILTER (WHERE direction = 'debit')::bigint AS debits
         FROM ledger_entries WHERE payment_id = $1 AND kind LIKE 'dispute%' GROUP BY kind ORDER BY kind`,
      [paymentId],
    );
    return Object.fromEntries(rows.map((r) => [r.kind, { lines: r.lines, debits: r.debits }]));
  };

  it('a chargeback opened (withdrawal booked once, even notified twice) and won (reinstated); the ledger balanced', async () => {
    const payment = await approvedPayment();
    const chargeback = await emulator.createChargeback(payment.providerRef);
    await drainWebhooks(api);
    await emulator.resendChargeback(String(chargeback.id));
    await drainWebhooks(api);
    const [dispute] = await disputeOf(payment.id);
    expect(dispute).toMatchObject({
      provider: 'mercadopago',
      providerRef: String(chargeback.id),
      chargeRef: payment.providerRef,
      amount: payment.amount,
      currency: 'BRL',
      status: 'needs_response',
      providerStatus: 'new',
    });
    expect(await disputePostings(payment.id)).toEqual({ dispute_withdrawal: { lines: 2, debits: payment.amount } });

    // Evidence is recorded here (Mercado Pago takes documentation through its dashboard).
    const evidence = await api.http().post(`/disputes/${dispute.id}/evidence`).set('X-Api-Key', sk).send({ text: 'Signed receipt.' });
    expect(evidence.status).toBe(200);

    await emulator.closeChargeback(String(chargeback.id), 'won');
    await drainWebhooks(api);
    await emulator.resendChargeback(String(chargeback.id));
    await drainWebhooks(api);
    expect((await disputeOf(payment.id))[0].status).toBe('won');
    expect(await disputePostings(payment.id)).toEqual({
      dispute_reinstatement: { lines: 2, debits: payment.amount },
      dispute_withdrawal: { lines: 2, debits: payment.amount },
    });
    const balance = await api.http().get('/admin/ledger/balance').query({ currency: 'BRL' }).set('X-Api-Key', admin);
    expect(balance.body.balanced).toBe(true);
  });

  it('a chargeback lost: the withdrawal stays, nothing reinstated', async () => {
    const payment = await approvedPayment();
    const chargeback = await emulator.createChargeback(payment.providerRef);
    await emulator.closeChargeback(String(chargeback.id), 'lost');
    await drainWebhooks(api);
    expect((await disputeOf(payment.id))[0].status).toBe('lost');
    expect(await disputePostings(payment.id)).toEqual({ dispute_withdrawal: { lines: 2, debits: payment.amount } });
  });
});
