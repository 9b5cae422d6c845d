import {
  CardToken,
  InvalidWebhookSignatureError,
  MercadoPagoConfig,
  MPBadRequestError,
  MPConnectionError,
  MPIdempotencyError,
  MPRateLimitError,
  MPServerError,
  Payment,
  PaymentRefund,
  Preference,
  WebhookSignatureValidator,
} from 'mercadopago';
import { MercadoPagoEmulator, pointMercadoPagoSdkAt } from './mercadopago-emulator';
import { ReceivedRequest, WebhookReceiver } from './webhook-receiver';

const SECRET = 'mp-webhook-secret';

interface Notification {
  action: string;
  api_version: string;
  data: { id: string };
  id: number;
  live_mode: boolean;
  type: string;
  user_id: number;
}

describe('MercadoPagoEmulator with the mercadopago SDK', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: SECRET });
  const receiver = new WebhookReceiver();
  let restoreSdk: () => void;

  beforeAll(async () => {
    restoreSdk = pointMercadoPagoSdkAt(await emulator.start());
    emulator.webhookUrl = await receiver.start('/webhooks/mercadopago');
  });

  afterAll(async () => {
    restoreSdk();
    await emulator.stop();
    await receiver.stop();
  });

  afterEach(() => {
    emulator.clearFaults();
  });

  /**
   * A new client per use: the SDK merges per-call requestOptions into the shared config, so an
   * idempotency key given to one call would leak into the next ones on the same client.
   */
  function client(timeout = 2000): MercadoPagoConfig {
    return new MercadoPagoConfig({ accessToken: 'TEST-0000000000000000-000000-emulator', options: { maxRetries: 0, timeout } });
  }

  async function token(cardholderName: string): Promise<string> {
    const body = {
      card_number: '5031433215406351',
      expiration_month: '11',
      expiration_year: '2030',
      security_code: '123',
      cardholder: { name: cardholderName, identification: { type: 'CPF', number: '12345678909' } },
    };
    const created = await new CardToken(client()).create({ body });
    return String(created.id);
  }

  async function createPayment(cardholderName: string, extra: Record<string, unknown> = {}, idempotencyKey?: string) {
    return new Payment(client()).create({
      body: {
        transaction_amount: 100.5,
        token: await token(cardholderName),
        description: 'T-shirt',
        installments: 1,
        payment_method_id: 'master',
        payer: { email: 'buyer@example.com' },
        external_reference: `order_${cardholderName}`,
        metadata: { order_id: 'ord_1' },
        ...extra,
      },
      requestOptions: idempotencyKey ? { idempotencyKey } : undefined,
    });
  }

  function notificationFor(paymentId: number | undefined, action: string): Promise<ReceivedRequest> {
    return receiver.waitFor((r) => {
      const body = JSON.parse(r.body) as Notification;
      return body.data.id === String(paymentId) && body.action === action;
    });
  }

  function validate(request: ReceivedRequest, secret = SECRET): void {
    const url = new URL(request.url, 'http://localhost');
    WebhookSignatureValidator.validate({
      xSignature: request.headers['x-signature'],
      xRequestId: request.headers['x-request-id'],
      dataId: url.searchParams.get('data.id'),
      secret,
      toleranceSeconds: 300,
    });
  }

  it.each([
    ['APRO', 'approved', 'accredited'],
    ['OTHE', 'rejected', 'cc_rejected_other_reason'],
    ['FUND', 'rejected', 'cc_rejected_insufficient_amount'],
    ['CONT', 'in_process', 'pending_contingency'],
  ])('a card token for %s gives a %s payment (%s) and a signed payment.created webhook', async (name, status, detail) => {
    const payment = await createPayment(name);
    expect(payment).toMatchObject({
      status,
      status_detail: detail,
      transaction_amount: 100.5,
      currency_id: 'BRL',
      external_reference: `order_${name}`,
    });
    expect(payment.api_response.status).toBe(201);
    const fetched = await new Payment(client()).get({ id: String(payment.id) });
    expect(fetched).toMatchObject({ id: payment.id, status, metadata: { order_id: 'ord_1' } });

    const request = await notificationFor(payment.id, 'payment.created');
    const url = new URL(request.url, 'http://localhost');
    expect(url.pathname).toBe('/webhooks/mercadopago');
    expect(url.searchParams.get('data.id')).toBe(String(payment.id));
    expect(url.searchParams.get('type')).toBe('payment');
    expect(JSON.parse(request.body)).toMatchObject({ api_version: 'v1', type: 'payment', live_mode: false, user_id: emulator.collectorId });
    expect(() => validate(request)).not.toThrow();
    expect(() => validate(request, 'another-secret')).toThrow(InvalidWebhookSignatureError);
  });

  it('settles an in_process (CONT) payment and notifies payment.updated', async () => {
    const payment = await createPayment('CONT');
    const settled = await emulator.settlePayment(Number(payment.id), 'approved');
    expect(settled.status).toBe('approved');
    expect((await new Payment(client()).get({ id: String(payment.id) })).status_detail).toBe('accredited');
    validate(await notificationFor(payment.id, 'payment.updated'));
  });

  it('refunds partially (payment stays approved) and then fully (refunded); refuses more', async () => {
    const payment = await createPayment('APRO', { transaction_amount: 80.1 });
    const refunds = new PaymentRefund(client());
    const partial = await refunds.create({ payment_id: String(payment.id), body: { amount: 30.05 } });
    expect(partial).toMatchObject({ payment_id: payment.id, amount: 30.05, status: 'approved' });
    let fetched = await new Payment(client()).get({ id: String(payment.id) });
    expect(fetched).toMatchObject({ status: 'approved', status_detail: 'partially_refunded', transaction_amount_refunded: 30.05 });

    const rest = await new PaymentRefund(client()).create({ payment_id: String(payment.id) });
    expect(rest.amount).toBe(50.05);
    fetched = await new Payment(client()).get({ id: String(payment.id) });
    expect(fetched).toMatchObject({ status: 'refunded', transaction_amount_refunded: 80.1 });
    expect(fetched.refunds).toHaveLength(2);

    await expect(new PaymentRefund(client()).create({ payment_id: String(payment.id), body: { amount: 1 } })).rejects.toBeInstanceOf(
      MPBadRequestError,
    );
    await emulator.idle();
    const updates = receiver.received.filter((r) => (JSON.parse(r.body) as Notification).data.id === String(payment.id));
    expect(updates.map((r) => (JSON.parse(r.body) as Notification).action)).toEqual([
      'payment.created',
      'payment.updated',
      'payment.updated',
    ]);
  });

  it('honours X-Idempotency-Key: the same key answers the same payment, and records every key', async () => {
    const key = `idem-${Date.now()}`;
    // The same request again: one card token, one body (another token would be another body: a 409).
    const body = { token: await token('APRO') };
    const first = await createPayment('APRO', body, key);
    const before = emulator.payments().length;
    const again = await createPayment('APRO', body, key);
    expect(again.id).toBe(first.id);
    expect(emulator.payments()).toHaveLength(before);
    const uses = emulator.idempotencyKeysSeen().filter((u) => u.key === key);
    expect(uses.map((u) => [u.path, u.replayed, u.resourceId])).toEqual([
      ['/v1/payments', false, String(first.id)],
      ['/v1/payments', true, String(first.id)],
    ]);
    // Every SDK write carries a key; no two payments were created under one key.
    const created = emulator.idempotencyKeysSeen().filter((u) => u.path === '/v1/payments' && !u.replayed);
    expect(new Set(created.map((u) => u.key)).size).toBe(created.length);
  });

  it('refuses a key reused with another body (409, MPIdempotencyError) and creates nothing: the SDK pitfall of a sticky key', async () => {
    const shared = client();
    const key = `sticky-${Date.now()}`;
    const payments = new Payment(shared);
    const first = await payments.create({
      body: { transaction_amount: 10, token: await token('APRO'), payment_method_id: 'visa', payer: { email: 'a@example.com' } },
      requestOptions: { idempotencyKey: key },
    });
    const before = emulator.payments().length;
    // The key given to the first call sticks to the client: the second call sends it with its own body.
    const refused = await payments
      .create({
        body: { transaction_amount: 20, token: await token('APRO'), payment_method_id: 'visa', payer: { email: 'b@example.com' } },
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(MPIdempotencyError);
    expect(refused).toMatchObject({ status: 409 });
    expect(emulator.payments()).toHaveLength(before);
    const reuse = emulator.idempotencyKeysSeen().filter((u) => u.key === key);
    expect(reuse.map((u) => [u.replayed, u.sameBody])).toEqual([
      [false, true],
      [false, false],
    ]);
    expect(emulator.payments().find((p) => p.id === first.id)?.transaction_amount).toBe(10);
  });

  it('answers a held refund in_process, then approves it (refunded on the payment, payment.updated) or rejects it', async () => {
    const payment = await createPayment('APRO', { transaction_amount: 50 });
    emulator.holdNextRefunds(1);
    const held = await new PaymentRefund(client()).create({ payment_id: String(payment.id), body: { amount: 20 } });
    expect(held.status).toBe('in_process');
    expect(await new Payment(client()).get({ id: String(payment.id) })).toMatchObject({
      status: 'approved',
      transaction_amount_refunded: 0,
    });
    // What is held cannot be refunded twice.
    await expect(new PaymentRefund(client()).create({ payment_id: String(payment.id), body: { amount: 40 } })).rejects.toBeInstanceOf(
      MPBadRequestError,
    );

    await emulator.settleRefund(Number(payment.id), Number(held.id), 'approved');
    const refund = await new PaymentRefund(client()).get({ payment_id: String(payment.id), refund_id: String(held.id) });
    expect(refund.status).toBe('approved');
    expect(await new Payment(client()).get({ id: String(payment.id) })).toMatchObject({
      status_detail: 'partially_refunded',
      transaction_amount_refunded: 20,
    });
    expect(receiver.received.filter((r) => (JSON.parse(r.body) as Notification).data.id === String(payment.id))).toHaveLength(2);

    emulator.holdNextRefunds(1);
    const rejected = await new PaymentRefund(client()).create({ payment_id: String(payment.id), body: { amount: 30 } });
    await emulator.settleRefund(Number(payment.id), Number(rejected.id), 'rejected');
    expect(await new Payment(client()).get({ id: String(payment.id) })).toMatchObject({ transaction_amount_refunded: 20 });
    await expect(emulator.settleRefund(Number(payment.id), Number(rejected.id))).rejects.toThrow('not in_process');
  });

  it('creates a preference, pays it on the hosted page, redirects to back_urls.success and notifies', async () => {
    const reference = `order_pref_${Date.now()}`;
    const pref = await new Preference(client()).create({
      body: {
        items: [{ id: 'sku-1', title: 'T-shirt', quantity: 2, unit_price: 25.5, currency_id: 'BRL' }],
        external_reference: reference,
        back_urls: { success: 'https://shop.example/ok', failure: 'https://shop.example/fail', pending: 'https://shop.example/pending' },
        auto_return: 'approved',
        payer: { email: 'buyer@example.com' },
        metadata: { session: 'pb_sess_1' },
      },
    });
    expect(pref.id).toMatch(/^\d+-/);
    expect(pref.init_point).toContain(emulator.url);
    const page = await fetch(String(pref.init_point));
    expect(await page.text()).toContain('APRO');

    const paid = await fetch(`${emulator.url}/_emulator/preferences/${pref.id}/pay`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'cardholder_name=APRO',
      redirect: 'manual',
    });
    expect(paid.status).toBe(303);
    const location = new URL(String(paid.headers.get('location')));
    expect(location.origin + location.pathname).toBe('https://shop.example/ok');
    expect(location.searchParams.get('status')).toBe('approved');
    expect(location.searchParams.get('external_reference')).toBe(reference);
    const paymentId = location.searchParams.get('payment_id');

    validate(await notificationFor(Number(paymentId), 'payment.created'));
    const search = await new Payment(client()).search({ options: { external_reference: reference } });
    expect(search.results).toHaveLength(1);
    expect(search.results?.[0]).toMatchObject({
      id: Number(paymentId),
      status: 'approved',
      transaction_amount: 51,
      metadata: { session: 'pb_sess_1' },
    });

    const declined = await emulator.payPreference(String(pref.id), { cardholderName: 'FUND' });
    expect(declined).toMatchObject({ status: 'rejected', external_reference: reference });
  });

  it('failNext answers Mercado Pago error objects (500, 429) that the SDK maps to typed errors', async () => {
    const before = emulator.payments().length;
    const tok = await token('APRO');
    emulator.failNext(1, 500);
    const body = { transaction_amount: 10, token: tok, payment_method_id: 'visa', payer: { email: 'a@example.com' } };
    const error = await new Payment(client()).create({ body }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MPServerError);
    expect((error as MPServerError).status).toBe(500);
    emulator.failNext(1, 429);
    await expect(new Payment(client()).create({ body })).rejects.toBeInstanceOf(MPRateLimitError);
    expect(emulator.payments()).toHaveLength(before);
    await expect(new Payment(client()).create({ body })).resolves.toMatchObject({ status: 'approved' });
  });

  it('hangNext makes the SDK time out; dropAfterChargeNext charges but the SDK gets no answer, and a retry with the key is answered', async () => {
    emulator.hangNext(1);
    const hung = await new Payment(client(300))
      .create({
        body: { transaction_amount: 10, token: await token('APRO'), payment_method_id: 'visa', payer: { email: 'a@example.com' } },
      })
      .catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(MPConnectionError);

    const before = emulator.payments().length;
    const key = `drop-${Date.now()}`;
    const body = { transaction_amount: 10, token: await token('APRO'), payment_method_id: 'visa', payer: { email: 'a@example.com' } };
    emulator.dropAfterChargeNext(1);
    const dropped = await new Payment(client()).create({ body, requestOptions: { idempotencyKey: key } }).catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(MPConnectionError);
    expect(emulator.payments()).toHaveLength(before + 1);
    const retried = await new Payment(client()).create({ body, requestOptions: { idempotencyKey: key } });
    expect(retried.id).toBe(emulator.payments()[before].id);
    expect(emulator.payments()).toHaveLength(before + 1);
  });

  it('creates Pix payments pending until settled, resends notifications, and rejects calls without a token', async () => {
    const pix = await new Payment(client()).create({
      body: { transaction_amount: 15, payment_method_id: 'pix', payer: { email: 'a@example.com' } },
    });
    expect(pix).toMatchObject({ status: 'pending', status_detail: 'pending_waiting_transfer' });
    expect(pix.point_of_interaction?.transaction_data?.qr_code).toBeTruthy();
    const created = await notificationFor(pix.id, 'payment.created');
    const notificationId = (JSON.parse(created.body) as Notification).id;
    const count = receiver.received.length;
    await emulator.resend(notificationId, { sameSignature: true });
    expect(receiver.received[count].body).toBe(created.body);
    expect(receiver.received[count].headers['x-signature']).toBe(created.headers['x-signature']);

    await emulator.settlePayment(Number(pix.id), 'approved');
    expect((await new Payment(client()).get({ id: String(pix.id) })).status).toBe('approved');
    validate(await notificationFor(pix.id, 'payment.updated'));

    const anonymous = await fetch(`${emulator.url}/v1/payments/${pix.id}`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ status: 401, error: 'unauthorized' });
  });
});
