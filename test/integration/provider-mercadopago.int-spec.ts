import { randomUUID } from 'node:crypto';
import { ProviderRegistry } from '../../src/payments/providers/provider-registry';
import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import {
  checkoutBody,
  createCheckout,
  createProduct,
  eventually,
  ledgerTotals,
  processBody,
  processPayment,
  refundPayment,
  getPayment,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const ACCESS_TOKEN = 'TEST-8837-112233-emulator';
const WEBHOOK_SECRET = 'mp-webhook-secret-int';

describe('Mercado Pago through our API (real mercadopago SDK against the emulator, real PostgreSQL)', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: WEBHOOK_SECRET, accessToken: ACCESS_TOKEN });
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
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
      // The injected 500/429/drop must not open the shared circuit for the tests after them.
      CIRCUIT_FAILURE_THRESHOLD: '100',
    });
    // The account-level webhook ("Your integrations" → Webhooks): no PUBLIC_URL, so no notification_url.
    emulator.webhookUrl = `${api.url}/webhooks/mercadopago`;
    pk = await api.key('publishable');
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
  afterEach(() => emulator.clearFaults());

  /** A card token as MercadoPago.js makes one in the browser (Mastercard test card), with our `<method>:<token>` form. */
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
    return `master:${((await res.json()) as { id: string }).id}`;
  };
  const chargeWith = async (cardholderName: string) => {
    const token = await cardToken(cardholderName);
    return processPayment(api, sk, processBody(productId, token, { currency: 'BRL', paymentMethod: { provider: 'mercadopago', token } }));
  };
  const getSession = async (id: string) => (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', pk)).body;
  const atEmulator = (reference: string) => emulator.payments().filter((p) => p.external_reference === reference);
  const latestPaymentId = async () => (await api.db.query(`SELECT id FROM payments ORDER BY created_at DESC LIMIT 1`)).rows[0].id as string;
  const storedEvents = async (eventId: string) =>
    (await api.db.query(`SELECT status, type FROM payment_webhook_events WHERE provider = 'mercadopago' AND event_id = $1`, [eventId]))
      .rows;
  const postNotification = (paymentId: string, headers: Record<string, string>, body?: Record<string, unknown>) =>
    api
      .http()
      .post(`/webhooks/mercadopago?data.id=${paymentId}&type=payment`)
      .set('Content-Type', 'application/json')
      .set(headers)
      .send(
        JSON.stringify(body ?? { action: 'payment.updated', api_version: 'v1', data: { id: paymentId }, id: Date.now(), type: 'payment' }),
      );

  it('hosted checkout: a Checkout Pro preference; a declined then an approved payment; the signed notification completes the session', async () => {
    const created = await createCheckout(api, pk, checkoutBody(productId, { currency: 'BRL' }));
    expect(created.status).toBe(201);
    const session = created.body;
    expect(session).toMatchObject({ status: 'open', provider: 'mercadopago', total: 29980, currency: 'BRL' });

    const preference = emulator.preferences().find((p) => p.external_reference === session.id);
    expect(preference).toMatchObject({
      items: [expect.objectContaining({ quantity: 2, unit_price: 149.9, currency_id: 'BRL' })],
      metadata: { merchant_id: 'mer_default', reference: session.id },
      back_urls: { success: 'https://shop.example.com/success', failure: 'https://shop.example.com/cancel' },
      notification_url: null,
    });
    // TEST- credentials: the sandbox page.
    expect(session.url).toBe(preference?.sandbox_init_point);
    expect(session.providerSessionId).toBe(preference?.id);
    const key = emulator.idempotencyKeysSeen().find((u) => u.path === '/checkout/preferences' && u.resourceId === preference?.id);
    expect(key?.key).toBe(`${session.id}_mercadopago`);

    // The buyer's card is declined: that payment fails, the session stays open.
    const declined = await emulator.payPreference(String(preference?.id), { cardholderName: 'OTHE' });
    const failed = await eventually(async () => {
      const p = await getPayment(api, sk, session.paymentId);
      return p.status === 'failed' ? p : undefined;
    });
    expect(failed).toMatchObject({ failureCode: 'card_declined', declineCode: 'cc_rejected_other_reason' });
    expect((await getSession(session.id)).status).toBe('open');
    expect(await storedEvents(`mp_ntf_${emulator.notifications().find((n) => n.paymentId === declined.id)?.id}`)).toEqual([
      { status: 'processed', type: 'payment.created' },
    ]);

    // Then pays (APRO): notification → we fetch the payment → approved with external_reference cs_… → complete.
    const paid = await emulator.payPreference(String(preference?.id), { cardholderName: 'APRO' });
    const completed = await eventually(async () => {
      const s = await getSession(session.id);
      return s.status === 'complete' ? s : undefined;
    });
    expect(completed.paymentId).not.toBe(session.paymentId);
    expect(await getPayment(api, sk, completed.paymentId)).toMatchObject({
      status: 'succeeded',
      amount: 29980,
      currency: 'BRL',
      provider: 'mercadopago',
      providerRef: String(paid.id),
      checkoutSessionId: session.id,
    });
    const ledger = await api.db.query('SELECT account, direction, amount FROM ledger_entries WHERE payment_id = $1 ORDER BY direction', [
      completed.paymentId,
    ]);
    expect(ledger.rows).toEqual([
      { account: 'sales', direction: 'credit', amount: 29980 },
      { account: 'receivable:mercadopago', direction: 'debit', amount: 29980 },
    ]);
    const totals = await ledgerTotals(api, 'BRL');
    expect(totals.debits).toBe(totals.credits);
    // The notification was confirmed against the API before anything changed.
    expect(emulator.requestLog().some((r) => r.method === 'GET' && r.path === `/v1/payments/${paid.id}`)).toBe(true);
  });

  it('direct charge APRO: 201 succeeded, sent in major units with our references and our idempotency key', async () => {
    const res = await chargeWith('APRO');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 14990, currency: 'BRL', provider: 'mercadopago', amountRefunded: 0 });
    const [payment] = atEmulator(res.body.id);
    expect(payment).toMatchObject({
      status: 'approved',
      transaction_amount: 149.9,
      installments: 1,
      payment_method_id: 'master',
      metadata: { merchant_id: 'mer_default', reference: res.body.id, attempt_key: `${res.body.id}_1` },
    });
    expect(res.body.providerRef).toBe(String(payment.id));
    const use = emulator.idempotencyKeysSeen().find((u) => u.path === '/v1/payments' && u.resourceId === String(payment.id));
    expect(use).toMatchObject({ key: `${res.body.id}_1`, replayed: false });
  });

  it.each([
    ['OTHE', 'cc_rejected_other_reason'],
    ['FUND', 'cc_rejected_insufficient_amount'],
  ])('direct charge %s: 402 card_error with declineCode %s, stored failed, nothing in the ledger', async (name, declineCode) => {
    const res = await chargeWith(name);
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ type: 'card_error', code: 'card_declined', declineCode });
    const id = await latestPaymentId();
    expect(await getPayment(api, sk, id)).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode });
    expect(atEmulator(id)).toHaveLength(1);
    expect((await api.db.query('SELECT 1 FROM ledger_entries WHERE payment_id = $1', [id])).rows).toHaveLength(0);
  });

  it('a named provider that the routing table does not give this currency is refused before anything is sent', async () => {
    const before = emulator.payments().length;
    const res = await processPayment(
      api,
      sk,
      processBody(productId, 'master:tok', {
        currency: 'USD',
        provider: 'mercadopago',
        paymentMethod: { provider: 'mercadopago', token: 'master:tok' },
      }),
    );
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'provider_not_available', param: 'provider' });
    expect(emulator.payments()).toHaveLength(before); // Mercado Pago would have charged BRL
  });

  it('cancel() stops a payment still in process at Mercado Pago and leaves an approved one as it is', async () => {
    const provider = api.app.get(ProviderRegistry).get('mercadopago');
    const waiting = atEmulator((await chargeWith('CONT')).body.id)[0];
    await provider.cancel(String(waiting.id));
    expect(emulator.payments().find((p) => p.id === waiting.id)?.status).toBe('cancelled');
    expect((await provider.retrieve({ providerRef: String(waiting.id), idempotencyKey: 'unused' }))?.status).toBe('canceled');

    const approved = atEmulator((await chargeWith('APRO')).body.id)[0];
    await provider.cancel(String(approved.id)); // Mercado Pago refuses: nothing to do
    expect(emulator.payments().find((p) => p.id === approved.id)?.status).toBe('approved');
  });

  it('direct charge CONT: 201 processing, then settled by a signed notification we confirm with the API', async () => {
    const res = await chargeWith('CONT');
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('processing');
    expect((await api.db.query('SELECT 1 FROM ledger_entries WHERE payment_id = $1', [res.body.id])).rows).toHaveLength(0);
    const [payment] = atEmulator(res.body.id);
    expect(payment.status).toBe('in_process');

    await emulator.settlePayment(payment.id, 'approved');
    const settled = await eventually(async () => {
      const p = await getPayment(api, sk, res.body.id);
      return p.status === 'succeeded' ? p : undefined;
    });
    expect(settled.providerRef).toBe(String(payment.id));
    const ledger = await api.db.query('SELECT sum(amount)::int AS n FROM ledger_entries WHERE payment_id = $1', [res.body.id]);
    expect(ledger.rows[0].n).toBe(2 * 14990);
  });

  it('partial refund: refunded at Mercado Pago in major units under the refund id as idempotency key', async () => {
    const paid = await chargeWith('APRO');
    const refund = await refundPayment(api, admin, paid.body.id, { amount: 5000 });
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({ status: 'succeeded', amount: 5000 });
    expect(await getPayment(api, sk, paid.body.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 5000 });
    const [payment] = atEmulator(paid.body.id);
    expect(payment).toMatchObject({ status: 'approved', status_detail: 'partially_refunded', transaction_amount_refunded: 50 });
    expect(String(payment.refunds[0].id)).toBe(refund.body.providerRef);
    const asked = { providerRef: String(payment.id), providerRefundId: refund.body.providerRef };
    expect(await api.app.get(ProviderRegistry).get('mercadopago').retrieveRefund(asked)).toBe('succeeded');
    const use = emulator.idempotencyKeysSeen().find((u) => u.path === `/v1/payments/${payment.id}/refunds`);
    expect(use?.key).toBe(refund.body.id);

    // More than remains: refused by us before Mercado Pago is asked.
    const tooMuch = await refundPayment(api, admin, paid.body.id, { amount: 10000 });
    expect(tooMuch.status).toBe(422);

    // 20.00 refunded in Mercado Pago's dashboard: its notification reports 70.00 refunded in all, and
    // Paybridge records and books the 2000 it did not send (once: the same total again adds nothing).
    const outside = await fetch(`${emulator.url}/v1/payments/${payment.id}/refunds`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${ACCESS_TOKEN}`,
        'Content-Type': 'application/json',
        'X-Idempotency-Key': `dashboard-${payment.id}`,
      },
      body: JSON.stringify({ amount: 20 }),
    });
    expect(outside.status).toBe(201);
    for (let i = 0; i < 2; i++) await emulator.sendNotification(payment.id, 'payment.updated');
    await eventually(async () => (await getPayment(api, sk, paid.body.id)).amountRefunded === 7000);
    // Every notification processed (each reports the same total), and still 7000.
    await eventually(
      async () =>
        (await api.db.query(`SELECT 1 FROM payment_webhook_events WHERE provider = 'mercadopago' AND status = 'pending'`)).rows.length ===
        0,
    );
    expect(await getPayment(api, sk, paid.body.id)).toMatchObject({ amountRefunded: 7000 });
    const recorded = await api.db.query(`SELECT amount, reason, origin FROM refunds WHERE payment_id = $1 ORDER BY created_at`, [
      paid.body.id,
    ]);
    expect(recorded.rows).toEqual([
      { amount: 5000, reason: null, origin: 'api' },
      { amount: 2000, reason: null, origin: 'provider' },
    ]);
  });

  it('a connection dropped after the charge: retrieve finds the one payment by external_reference; ours succeeds', async () => {
    const searchesBefore = emulator.requestLog().filter((r) => r.path === '/v1/payments/search').length;
    emulator.dropAfterChargeNext(1);
    const res = await chargeWith('APRO');
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('succeeded');
    const found = atEmulator(res.body.id);
    expect(found).toHaveLength(1);
    expect(res.body.providerRef).toBe(String(found[0].id));
    expect(emulator.requestLog().filter((r) => r.path === '/v1/payments/search').length).toBe(searchesBefore + 1);
  });

  it('a 500 from Mercado Pago: 503 provider_error, nothing charged; a 429 likewise', async () => {
    for (const status of [500, 429]) {
      emulator.failNext(1, status);
      const res = await chargeWith('APRO');
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ type: 'provider_error' });
      expect(atEmulator(await latestPaymentId())).toHaveLength(0);
    }
  });

  it('two different payments never share an idempotency key (the SDK merges per-call options into a shared client)', async () => {
    const first = await chargeWith('APRO');
    // Other writes in between: a refund and a preference under their own keys.
    await refundPayment(api, admin, first.body.id, { amount: 100 });
    await createCheckout(api, pk, checkoutBody(productId, { currency: 'BRL' }));
    const second = await chargeWith('APRO');
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.providerRef).not.toBe(first.body.providerRef);

    const uses = emulator.idempotencyKeysSeen().filter((u) => u.path === '/v1/payments');
    const forFirst = uses.filter((u) => u.resourceId === first.body.providerRef);
    const forSecond = uses.filter((u) => u.resourceId === second.body.providerRef);
    expect(forFirst.map((u) => u.key)).toEqual([`${first.body.id}_1`]);
    expect(forSecond.map((u) => u.key)).toEqual([`${second.body.id}_1`]);
    // Across this whole file: no key created two payments, and no key was ever sent again with another
    // body (Mercado Pago refuses that with 409).
    const created = uses.filter((u) => !u.replayed && u.sameBody);
    expect(new Set(created.map((u) => u.key)).size).toBe(created.length);
    expect(emulator.idempotencyKeysSeen().filter((u) => !u.sameBody)).toEqual([]);
  });

  describe('webhook security', () => {
    it('a notification signed with another secret is refused (400) and nothing is stored', async () => {
      const paid = await chargeWith('CONT');
      const [payment] = atEmulator(paid.body.id);
      const delivery = await emulator.sendNotification(payment.id, 'payment.updated', { secret: 'not-the-secret' });
      expect(delivery?.status).toBe(400);
      expect(JSON.parse(String(delivery?.responseBody)).error.code).toBe('webhook_verification_failed');
      const forged = emulator.notifications().find((n) => n.url === delivery?.url && n.body === delivery?.requestBody);
      expect(await storedEvents(`mp_ntf_${forged?.id}`)).toEqual([]);

      const unsigned = await postNotification(String(payment.id), { 'x-request-id': randomUUID() });
      expect(unsigned.status).toBe(400);
      // A valid signature for one payment id does not carry a body naming another.
      const requestId = randomUUID();
      const swapped = await postNotification(
        String(payment.id),
        { 'x-request-id': requestId, 'x-signature': emulator.sign(String(payment.id), requestId) },
        { action: 'payment.updated', data: { id: '999' }, id: 1, type: 'payment' },
      );
      expect(swapped.status).toBe(400);
      expect((await getPayment(api, sk, paid.body.id)).status).toBe('processing');
    });

    it('a stale timestamp (10 minutes old) is refused even with a valid HMAC', async () => {
      const paid = await chargeWith('CONT');
      const [payment] = atEmulator(paid.body.id);
      const requestId = randomUUID();
      const staleTs = String(Math.floor(Date.now() / 1000) - 600);
      const notificationId = Date.now();
      const res = await postNotification(
        String(payment.id),
        { 'x-request-id': requestId, 'x-signature': emulator.sign(String(payment.id), requestId, staleTs) },
        { action: 'payment.updated', api_version: 'v1', data: { id: String(payment.id) }, id: notificationId, type: 'payment' },
      );
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/timestamp/);
      expect(await storedEvents(`mp_ntf_${notificationId}`)).toEqual([]);
    });

    it('a replayed notification (byte for byte, or re-signed as Mercado Pago retries) is a duplicate with no second effect', async () => {
      const paid = await chargeWith('CONT');
      const [payment] = atEmulator(paid.body.id);
      await emulator.settlePayment(payment.id, 'approved');
      await eventually(async () => (await getPayment(api, sk, paid.body.id)).status === 'succeeded');
      const update = emulator.notifications().find((n) => n.paymentId === payment.id && n.action === 'payment.updated');
      const ledgerBefore = await ledgerTotals(api, 'BRL');

      const replay = await emulator.resend(Number(update?.id), { sameSignature: true });
      expect(replay.status).toBe(200);
      expect(JSON.parse(String(replay.responseBody))).toEqual({ received: true, duplicate: true });
      const retry = await emulator.resend(Number(update?.id));
      expect(JSON.parse(String(retry.responseBody))).toEqual({ received: true, duplicate: true });

      await drainWebhooks(api);
      expect(await storedEvents(`mp_ntf_${update?.id}`)).toEqual([{ status: 'processed', type: 'payment.updated' }]);
      expect(await ledgerTotals(api, 'BRL')).toEqual(ledgerBefore);
      const events = await api.db.query(`SELECT type FROM outbox_events WHERE aggregate_id = $1`, [paid.body.id]);
      expect(events.rows).toEqual([{ type: 'payment.succeeded' }]);
    });
  });
});
