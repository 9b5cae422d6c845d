import { PaymentJobs } from '../../src/payments/payment-jobs';
import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { StripeEmulator } from '../emulators/stripe-emulator';
import { createProduct, getPayment, ledgerTotals, processBody, processPayment, refundPayment, runJob } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { drainWebhooks } from '../factories/webhooks';

const STRIPE_SECRET = 'whsec_paybridge_pending_refunds';
const MP_TOKEN = 'TEST-8837-445566-emulator';
const MP_SECRET = 'mp-webhook-secret-pending';

/**
 * Refunds the provider answers pending (Stripe's `pending`, Mercado Pago's `in_process`) and settles
 * later: answered 201 pending with nothing booked and the amount held, untouched by the provider's
 * reports meanwhile, then booked (or released) when the recovery job asks the provider after it settled.
 */
describe('refunds the provider settles later (Stripe and Mercado Pago emulators, real PostgreSQL)', () => {
  const stripe = new StripeEmulator({ webhookSecret: STRIPE_SECRET });
  const mercadopago = new MercadoPagoEmulator({ webhookSecret: MP_SECRET, accessToken: MP_TOKEN });
  let dbUrl: string;
  let api: TestApp;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      STRIPE_SECRET_KEY: 'sk_test_paybridge',
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      STRIPE_API_BASE: await stripe.start(),
      MERCADOPAGO_ACCESS_TOKEN: MP_TOKEN,
      MERCADOPAGO_WEBHOOK_SECRET: MP_SECRET,
      MERCADOPAGO_API_BASE: await mercadopago.start(),
      PROVIDER_ROUTING: 'USD=stripe;BRL=mercadopago;*=simulator',
      RECOVERY_MIN_AGE_SECONDS: '0',
    });
    stripe.webhookUrl = `${api.url}/webhooks/stripe`;
    mercadopago.webhookUrl = `${api.url}/webhooks/mercadopago`;
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterAll(async () => {
    await Promise.all([stripe.idle(), mercadopago.idle()]);
    await api?.close();
    await Promise.all([stripe.stop(), mercadopago.stop()]);
    await dropDatabase(dbUrl);
  });

  const recover = () => runJob(() => api.app.get(PaymentJobs).recover());
  const refundRow = async (id: string) =>
    (await api.db.query<{ status: string }>(`SELECT status FROM refunds WHERE id = $1`, [id])).rows[0].status;
  const refundPostings = async (paymentId: string) =>
    (await api.db.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE payment_id = $1 AND kind = 'refund'`, [paymentId])).rows[0].n;

  /** A refund answered pending: nothing booked, the amount held, and the provider's reports change nothing. */
  async function expectHeld(paymentId: string, refund: { id: string }, amount: number) {
    await drainWebhooks(api);
    await recover();
    expect(await refundRow(refund.id)).toBe('pending');
    expect(await getPayment(api, sk, paymentId)).toMatchObject({ status: 'succeeded', amountRefunded: 0, amountRefundPending: amount });
    expect(await refundPostings(paymentId)).toBe(0);
  }

  describe('Stripe: pending, then succeeded or failed', () => {
    const charge = async () => {
      const paid = await processPayment(
        api,
        sk,
        processBody(productId, 'pm_card_visa', { paymentMethod: { provider: 'stripe', token: 'pm_card_visa' } }),
      );
      expect(paid.body).toMatchObject({ status: 'succeeded', provider: 'stripe' });
      return paid.body.id as string;
    };

    it('a refund Stripe answers pending is booked once Stripe says it succeeded', async () => {
      const paymentId = await charge();
      stripe.holdNextRefunds(1);
      const refund = await refundPayment(api, admin, paymentId, { amount: 1000 });
      expect(refund.status).toBe(201);
      expect(refund.body).toMatchObject({
        status: 'pending',
        amount: 1000,
        provider: 'stripe',
        providerRef: expect.stringMatching(/^re_/),
      });
      await expectHeld(paymentId, refund.body, 1000);

      await stripe.settleRefund(refund.body.providerRef, 'succeeded');
      await drainWebhooks(api);
      await recover();
      expect(await refundRow(refund.body.id)).toBe('succeeded');
      expect(await getPayment(api, sk, paymentId)).toMatchObject({
        status: 'partially_refunded',
        amountRefunded: 1000,
        amountRefundPending: 0,
      });
      expect(await refundPostings(paymentId)).toBe(2);
      await recover(); // asked again: nothing more
      expect(await refundPostings(paymentId)).toBe(2);
      const totals = await ledgerTotals(api, 'USD');
      expect(totals.debits).toBe(totals.credits);
    });

    it('a refund Stripe answers pending and then fails releases the held amount and books nothing', async () => {
      const paymentId = await charge();
      stripe.holdNextRefunds(1);
      const refund = await refundPayment(api, admin, paymentId, { amount: 2000 });
      expect(refund.body).toMatchObject({ status: 'pending' });
      await expectHeld(paymentId, refund.body, 2000);

      await stripe.settleRefund(refund.body.providerRef, 'failed');
      await drainWebhooks(api);
      await recover();
      expect(await refundRow(refund.body.id)).toBe('failed');
      expect(await getPayment(api, sk, paymentId)).toMatchObject({ status: 'succeeded', amountRefunded: 0, amountRefundPending: 0 });
      expect(await refundPostings(paymentId)).toBe(0);
      // The amount is refundable again.
      expect((await refundPayment(api, admin, paymentId, { amount: 2000 })).body).toMatchObject({ status: 'succeeded' });
    });
  });

  describe('Mercado Pago: in_process, then approved or rejected', () => {
    const charge = async () => {
      const res = await fetch(`${mercadopago.url}/v1/card_tokens`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${MP_TOKEN}`, 'Content-Type': 'application/json' },
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
      expect(paid.body).toMatchObject({ status: 'succeeded', provider: 'mercadopago' });
      return { paymentId: paid.body.id as string, mpPaymentId: Number(paid.body.providerRef) };
    };

    it('a refund Mercado Pago answers in_process is booked once it is approved', async () => {
      const { paymentId, mpPaymentId } = await charge();
      mercadopago.holdNextRefunds(1);
      const refund = await refundPayment(api, admin, paymentId, { amount: 5000 });
      expect(refund.status).toBe(201);
      expect(refund.body).toMatchObject({ status: 'pending', amount: 5000, provider: 'mercadopago' });
      await expectHeld(paymentId, refund.body, 5000);

      await mercadopago.settleRefund(mpPaymentId, Number(refund.body.providerRef), 'approved');
      await drainWebhooks(api);
      await recover();
      expect(await refundRow(refund.body.id)).toBe('succeeded');
      expect(await getPayment(api, sk, paymentId)).toMatchObject({
        status: 'partially_refunded',
        amountRefunded: 5000,
        amountRefundPending: 0,
      });
      expect(await refundPostings(paymentId)).toBe(2);
      const totals = await ledgerTotals(api, 'BRL');
      expect(totals.debits).toBe(totals.credits);
    });

    it('a refund Mercado Pago answers in_process and then rejects releases the held amount', async () => {
      const { paymentId, mpPaymentId } = await charge();
      mercadopago.holdNextRefunds(1);
      const refund = await refundPayment(api, admin, paymentId, { amount: 3000 });
      await expectHeld(paymentId, refund.body, 3000);

      await mercadopago.settleRefund(mpPaymentId, Number(refund.body.providerRef), 'rejected');
      await drainWebhooks(api);
      await recover();
      expect(await refundRow(refund.body.id)).toBe('failed');
      expect(await getPayment(api, sk, paymentId)).toMatchObject({ status: 'succeeded', amountRefunded: 0, amountRefundPending: 0 });
      expect(await refundPostings(paymentId)).toBe(0);
    });
  });
});
