import Stripe from 'stripe';
import { DEFAULT_MERCHANT_ID } from '../../src/auth/auth.types';
import { PaymentJobs } from '../../src/payments/payment-jobs';
import { ProviderRegistry } from '../../src/payments/providers/provider-registry';
import { StripeEmulator } from '../emulators/stripe-emulator';
import {
  checkoutBody,
  createCheckout,
  createProduct,
  eventually,
  ledgerTotals,
  newKey,
  processBody,
  processPayment,
  refundPayment,
  runJob,
  getPayment,
} from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

// Lost answers, outages and webhook security are in provider-stripe-resilience.int-spec.ts.
const SECRET = 'whsec_paybridge_stripe_int';

describe('Stripe through the API (stripe SDK against StripeEmulator, real PostgreSQL)', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  let stripe: Stripe;
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;

  beforeAll(async () => {
    const base = new URL(await emulator.start());
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      STRIPE_SECRET_KEY: 'sk_test_paybridge',
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_BASE: emulator.url,
      PROVIDER_ROUTING: 'USD=stripe,simulator;*=simulator',
      PROVIDER_TIMEOUT_MS: '1000',
      // This file injects several Stripe failures in a row; the shared circuit breaker has its own tests.
      CIRCUIT_FAILURE_THRESHOLD: '1000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/stripe`;
    // The merchant's own Stripe access, for changes made outside Paybridge.
    stripe = new Stripe('sk_test_merchant', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id;
  });
  afterEach(() => emulator.clearFaults());
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  const createSession = async (overrides: Record<string, unknown> = {}) => {
    const body = checkoutBody(productId, overrides);
    const res = await createCheckout(api, pk, body);
    expect(res.status).toBe(201);
    return { session: res.body, body };
  };
  const getSession = async (id: string) => (await api.http().get(`/payments/checkout/${id}`).set('X-Api-Key', pk)).body;
  const completedSession = (id: string) =>
    eventually(async () => {
      const s = await getSession(id);
      return s.status === 'complete' ? s : undefined;
    });
  const paymentInStatus = (id: string, status: string) =>
    eventually(async () => {
      const p = await getPayment(api, sk, id);
      return p.status === status ? p : undefined;
    });
  const charge = (token: string, overrides: Record<string, unknown> = {}, key = newKey()) =>
    processPayment(api, sk, processBody(productId, token, { paymentMethod: { provider: 'stripe', token }, ...overrides }), key);
  const latestPaymentId = async () => (await api.db.query(`SELECT id FROM payments ORDER BY created_at DESC LIMIT 1`)).rows[0].id as string;
  const intentsFor = (reference: string) => emulator.paymentIntents().filter((pi) => pi.metadata.reference === reference);
  const chargesFor = (paymentIntent: string) => emulator.charges().filter((c) => c.payment_intent === paymentIntent);
  const requestsTo = (method: string, path: string) => emulator.requestLog().filter((r) => r.method === method && r.path === path);
  const storedEvents = async (eventId: string) =>
    (await api.db.query(`SELECT status FROM payment_webhook_events WHERE provider = 'stripe' AND event_id = $1`, [eventId])).rows;

  describe('hosted checkout (Checkout Sessions)', () => {
    it('routes USD to Stripe, opens a Checkout Session, and completes on the signed checkout.session.completed', async () => {
      const { session, body } = await createSession();
      expect(session).toMatchObject({ status: 'open', provider: 'stripe', total: 5998, currency: 'USD' });
      expect(session.providerSessionId).toMatch(/^cs_test_/);
      expect(session.url).toBe(`${emulator.url}/c/pay/${session.providerSessionId}`);

      const atStripe = emulator.checkoutSessions().find((s) => s.id === session.providerSessionId);
      expect(atStripe).toMatchObject({
        mode: 'payment',
        amount_total: 5998,
        currency: 'usd',
        client_reference_id: session.id,
        customer_email: body.customer.email,
        metadata: { merchant_id: DEFAULT_MERCHANT_ID, reference: session.id },
        success_url: body.successUrl,
        cancel_url: body.cancelUrl,
      });
      const [create] = requestsTo('POST', '/v1/checkout/sessions').filter((r) => r.rawBody.includes(session.id));
      expect(create.headers['idempotency-key']).toBe(`${session.id}_stripe`);
      expect(decodeURIComponent(create.rawBody)).toContain('line_items[0][price_data][unit_amount]=2999');

      const paid = await emulator.payCheckoutSession(session.providerSessionId);
      const pi = paid.session.payment_intent as string;
      expect(paid.paymentIntent?.metadata).toEqual({ merchant_id: DEFAULT_MERCHANT_ID, reference: session.id });

      const completed = await completedSession(session.id);
      const payment = await getPayment(api, sk, completed.paymentId);
      expect(payment).toMatchObject({
        status: 'succeeded',
        amount: 5998,
        provider: 'stripe',
        providerRef: pi,
        checkoutSessionId: session.id,
      });
      expect(chargesFor(pi)).toHaveLength(1);
      const ledger = await api.db.query(`SELECT account, direction, amount FROM ledger_entries WHERE payment_id = $1 ORDER BY direction`, [
        payment.id,
      ]);
      expect(ledger.rows).toEqual([
        { account: 'sales', direction: 'credit', amount: 5998 },
        { account: 'receivable:stripe', direction: 'debit', amount: 5998 },
      ]);
      const totals = await ledgerTotals(api, 'USD');
      expect(totals.debits).toBe(totals.credits);
    });

    it('a decline on the hosted page fails that attempt and leaves the session open; paying then completes it', async () => {
      const { session } = await createSession({ provider: 'stripe' });
      const declined = await emulator.payCheckoutSession(session.providerSessionId, { paymentMethod: 'pm_card_chargeDeclined' });
      expect(declined.error).toMatchObject({ decline_code: 'generic_decline' });
      const failed = await paymentInStatus(session.paymentId, 'failed');
      expect(failed).toMatchObject({ failureCode: 'card_declined', declineCode: 'generic_decline' });
      expect((await getSession(session.id)).status).toBe('open');

      // The next attempt pays the same PaymentIntent (one per Checkout Session): the failed payment did
      // not take its reference, so the completion records the new payment with it, and nothing is in suspense.
      const paid = await emulator.payCheckoutSession(session.providerSessionId);
      expect(paid.paymentIntent?.id).toBe(declined.paymentIntent?.id);
      const completed = await completedSession(session.id);
      expect(completed.paymentId).not.toBe(session.paymentId);
      expect(await getPayment(api, sk, completed.paymentId)).toMatchObject({ status: 'succeeded', providerRef: paid.paymentIntent?.id });
      const ledger = (await api.http().get('/admin/ledger/balance?currency=USD').set('X-Api-Key', admin)).body;
      expect(ledger.accounts.find((a: { account: string }) => a.account === 'suspense')).toBeUndefined();
    });

    it('canceling the session expires it at Stripe', async () => {
      const { session } = await createSession();
      const res = await api.http().post(`/payments/checkout/${session.id}/cancel`).set('X-Api-Key', pk);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('canceled');
      expect(emulator.checkoutSessions().find((s) => s.id === session.providerSessionId)?.status).toBe('expired');
      expect((await getPayment(api, sk, session.paymentId)).status).toBe('canceled');
    });
  });

  describe('direct charges (PaymentIntents)', () => {
    it('pm_card_visa: 201 succeeded, one PaymentIntent carrying our key and references, ledger posted to receivable:stripe', async () => {
      const res = await charge('pm_card_visa');
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'succeeded', amount: 2999, currency: 'USD', provider: 'stripe' });
      expect(res.body.providerRef).toMatch(/^pi_/);

      const [pi] = intentsFor(res.body.id);
      expect(pi).toMatchObject({
        id: res.body.providerRef,
        status: 'succeeded',
        amount: 2999,
        currency: 'usd',
        metadata: { merchant_id: DEFAULT_MERCHANT_ID, reference: res.body.id, paybridge_key: `${res.body.id}_1` },
      });
      expect(chargesFor(pi.id)).toHaveLength(1);
      const [request] = requestsTo('POST', '/v1/payment_intents').filter((r) => r.rawBody.includes(res.body.id));
      expect(request.headers['idempotency-key']).toBe(`${res.body.id}_1`);
      const ledger = await api.db.query(`SELECT account FROM ledger_entries WHERE payment_id = $1 AND direction = 'debit'`, [res.body.id]);
      expect(ledger.rows).toEqual([{ account: 'receivable:stripe' }]);
    });

    it.each([
      ['pm_card_chargeDeclined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['pm_unknown_method', 'invalid_payment_method'],
    ])('%s: 402 card_error with declineCode %s, payment failed, nothing posted', async (token, declineCode) => {
      const res = await charge(token);
      expect(res.status).toBe(402);
      expect(res.body.error).toMatchObject({ type: 'card_error', code: 'card_declined', declineCode });
      const id = await latestPaymentId();
      expect(await getPayment(api, sk, id)).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode });
      expect((await api.db.query('SELECT 1 FROM ledger_entries WHERE payment_id = $1', [id])).rows).toHaveLength(0);
      expect(emulator.charges().filter((c) => c.metadata.reference === id)).toHaveLength(0);
    });

    it('3-D Secure: 201 requires_action with the redirect URL; completing it sends payment_intent.succeeded → succeeded', async () => {
      const returnUrl = 'https://shop.example.com/after-3ds';
      const res = await charge('pm_card_authenticationRequired', { returnUrl });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('requires_action');
      const piId = res.body.providerRef as string;
      expect(res.body.nextAction).toEqual({ type: 'redirect_to_url', url: `${emulator.url}/_emulator/3ds/${piId}` });
      expect(intentsFor(res.body.id)[0].next_action).toMatchObject({ redirect_to_url: { return_url: returnUrl } });
      expect(chargesFor(piId)).toHaveLength(0);

      await emulator.completeThreeDSecure(piId, 'succeed');
      const payment = await paymentInStatus(res.body.id, 'succeeded');
      expect(payment.nextAction).toBeNull();
      expect(chargesFor(piId)).toHaveLength(1);
    });

    it('3-D Secure without a returnUrl uses our default return page; a failed challenge fails the payment', async () => {
      const res = await charge('pm_card_threeDSecure2Required');
      expect(res.body.status).toBe('requires_action');
      expect(intentsFor(res.body.id)[0].next_action).toMatchObject({ redirect_to_url: { return_url: `${api.url}/stripe/return` } });

      await emulator.completeThreeDSecure(res.body.providerRef, 'fail');
      const failed = await paymentInStatus(res.body.id, 'failed');
      expect(failed).toMatchObject({ failureCode: 'card_declined', declineCode: 'payment_intent_authentication_failure' });
    });
    it('3-D Secure never completed: past the deadline the PaymentIntent is canceled at Stripe and the payment fails', async () => {
      const res = await charge('pm_card_threeDSecure2Required');
      expect(res.body.status).toBe('requires_action');
      await api.db.query(`UPDATE payments SET created_at = now() - interval '100 hours' WHERE id = $1`, [res.body.id]);
      await runJob(() => api.app.get(PaymentJobs).recover());
      expect(intentsFor(res.body.id)[0].status).toBe('canceled');
      expect(await getPayment(api, sk, res.body.id)).toMatchObject({ status: 'failed', failureCode: 'authentication_timeout' });
      expect(chargesFor(res.body.providerRef)).toHaveLength(0);
    });
  });

  describe('refunds', () => {
    it('partial refund through POST /transactions/:id/refund; a refund Stripe refuses is 422 and changes nothing', async () => {
      const paid = await charge('pm_card_visa');
      const refund = await refundPayment(api, admin, paid.body.id, { amount: 1000, reason: 'requested_by_customer' });
      expect(refund.status).toBe(201);
      expect(refund.body).toMatchObject({ status: 'succeeded', amount: 1000, provider: 'stripe' });
      expect(refund.body.providerRef).toMatch(/^re_/);
      const registry = api.app.get(ProviderRegistry);
      const asked = { providerRef: paid.body.providerRef, providerRefundId: refund.body.providerRef };
      expect(await registry.get('stripe').retrieveRefund(asked)).toBe('succeeded');

      const atStripe = emulator.refunds().filter((r) => r.payment_intent === paid.body.providerRef);
      expect(atStripe).toEqual([
        expect.objectContaining({ id: refund.body.providerRef, amount: 1000, metadata: { paybridge_key: refund.body.id } }),
      ]);
      const [request] = requestsTo('POST', '/v1/refunds').filter((r) => r.rawBody.includes(paid.body.providerRef));
      expect(request.headers['idempotency-key']).toBe(refund.body.id);
      expect(await getPayment(api, sk, paid.body.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });

      // The merchant refunds 300 in Stripe's dashboard: charge.refunded reports 1300 refunded in all, and
      // Paybridge records and books the 300 it did not send.
      await stripe.refunds.create({ payment_intent: paid.body.providerRef, amount: 300 });
      const refundedTo = (amount: number) =>
        eventually(async () => {
          const payment = await getPayment(api, sk, paid.body.id);
          return payment.amountRefunded === amount ? payment : undefined;
        });
      expect((await refundedTo(1300)).status).toBe('partially_refunded');
      const refundsOf = async () =>
        (
          await api.db.query(`SELECT amount, status, reason, origin, provider FROM refunds WHERE payment_id = $1 ORDER BY created_at`, [
            paid.body.id,
          ])
        ).rows;
      expect(await refundsOf()).toEqual([
        { amount: 1000, status: 'succeeded', reason: 'requested_by_customer', origin: 'api', provider: 'stripe' },
        { amount: 300, status: 'succeeded', reason: null, origin: 'provider', provider: 'stripe' },
      ]);
      // The same total reported again, in a new event: nothing more is recorded (another 300 would fit).
      const [stripeCharge] = chargesFor(paid.body.providerRef);
      const again = await emulator.sendEvent('charge.refunded', stripeCharge);
      await eventually(async () => (await storedEvents(again.id))[0]?.status === 'processed');
      expect(await refundsOf()).toHaveLength(2);

      // A dashboard refund of the rest Paybridge has not heard of yet (webhooks held back): Stripe refuses
      // ours (422), and asked what it shows refunded, books the rest as refunded at Stripe; the held event,
      // delivered later, adds nothing.
      const webhookUrl = emulator.webhookUrl;
      emulator.webhookUrl = undefined;
      let held: string | undefined;
      try {
        await stripe.refunds.create({ payment_intent: paid.body.providerRef, amount: 1699 });
        held = emulator
          .events()
          .filter((e) => e.type === 'charge.refunded')
          .at(-1)?.id;
        const refused = await refundPayment(api, admin, paid.body.id, { amount: 1000 });
        expect(refused.status).toBe(422);
        expect(refused.body.error.code).toBe('refund_refused');
        expect(await getPayment(api, sk, paid.body.id)).toMatchObject({ status: 'refunded', amountRefunded: 2999 });
      } finally {
        emulator.webhookUrl = webhookUrl;
      }
      expect(held).toBeDefined();
      const resent = await emulator.resend(held as string);
      expect(resent.status).toBe(200);
      await eventually(async () => (await storedEvents(held as string))[0]?.status === 'processed');
      expect(await refundsOf()).toEqual([
        { amount: 1000, status: 'succeeded', reason: 'requested_by_customer', origin: 'api', provider: 'stripe' },
        { amount: 300, status: 'succeeded', reason: null, origin: 'provider', provider: 'stripe' },
        { amount: 1000, status: 'failed', reason: null, origin: 'api', provider: 'stripe' },
        { amount: 1699, status: 'succeeded', reason: null, origin: 'provider', provider: 'stripe' },
      ]);
      const booked = await api.db.query(
        `SELECT coalesce(sum(amount), 0)::bigint AS refunded FROM ledger_entries WHERE payment_id = $1 AND account = 'refunds'`,
        [paid.body.id],
      );
      expect(booked.rows[0].refunded).toBe(2999);
      const totals = await ledgerTotals(api, 'USD');
      expect(totals.debits).toBe(totals.credits);
    });
  });
});
