import Stripe from 'stripe';
import { StripeEmulator } from '../emulators/stripe-emulator';
import { createProduct, eventually, ledgerTotals, newKey, processBody, processPayment, uniqueEmail } from '../factories/payments';
import {
  advance,
  getSubscription,
  invoicesOf,
  newMerchant,
  subscriptionAction,
  subscriptionEvents,
  SubscriptionBody,
  TEST_CLOCK_ENV,
} from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

const SECRET = 'whsec_paybridge_stripe_subs';

/**
 * Subscriptions through Stripe Billing (`managedBy: "provider"`): bought by POST /payments/process, which
 * saves the method and starts a Stripe Subscription whose first invoice is the first payment; renewed by
 * Stripe (the emulator's renew control, as a test clock renews), mirrored from its invoice and
 * subscription webhooks once Stripe's records confirm them. The app's real StripeProvider (stripe SDK)
 * against the Stripe emulator.
 */
describe('subscriptions through Stripe (renewed by Stripe Billing: invoice and subscription webhooks)', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  let stripe: Stripe;
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    const base = new URL(await emulator.start());
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      ...TEST_CLOCK_ENV,
      STRIPE_SECRET_KEY: 'sk_test_paybridge',
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_BASE: emulator.url,
      PROVIDER_ROUTING: 'USD=stripe;*=simulator',
      PROVIDER_TIMEOUT_MS: '2000',
    });
    emulator.webhookUrl = `${api.url}/webhooks/stripe`;
    // The merchant's own Stripe access, for what happens at Stripe outside Paybridge.
    stripe = new Stripe('sk_test_merchant', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await emulator.stop();
    await dropDatabase(dbUrl);
  });

  const monthlyPlan = (m: { admin: string }, amount = 1999) =>
    createProduct(api, m.admin, { billingType: 'SUBSCRIPTION', interval: 'month', prices: [{ currency: 'USD', amount }] });

  /** Buys the plan with pm_card_visa; answers the purchase, our subscription and Stripe's. */
  const subscribe = async (m: { sk: string }, productId: string) => {
    const email = uniqueEmail();
    const res = await processPayment(
      api,
      m.sk,
      processBody(productId, 'pm_card_visa', {
        customer: { email, name: 'Sub Scriber' },
        paymentMethod: { provider: 'stripe', token: 'pm_card_visa' },
      }),
    );
    if (res.status !== 201) throw new Error(`purchase: ${res.status} ${JSON.stringify(res.body)}`);
    const list = await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', m.sk);
    const sub = (list.body.data as SubscriptionBody[])[0];
    const atStripe = emulator.subscriptions().find((s) => (s.metadata as Record<string, string>).reference === res.body.id);
    if (!atStripe) throw new Error('the purchase started no Stripe subscription');
    return { res, sub, stripeSub: String(atStripe.id), customer: String(atStripe.customer) };
  };

  /** The webhook row of the event of `type` about the object `id`, once the worker is done with it. */
  const settled = (type: string, id: string, nth = 1) =>
    eventually(async () => {
      const { rows } = await api.db.query<{ status: string; last_error: string | null }>(
        `SELECT status, last_error FROM payment_webhook_events
          WHERE provider = 'stripe' AND type = $1 AND payload->'payload'->'data'->'object'->>'id' = $2 ORDER BY received_at`,
        [type, id],
      );
      return rows.length >= nth && rows.every((r) => r.status !== 'pending') ? rows[nth - 1] : undefined;
    });
  const latestInvoice = async (stripeSub: string) => String((await stripe.subscriptions.retrieve(stripeSub)).latest_invoice);
  const paymentCount = async (merchantId: string) =>
    (await api.db.query(`SELECT count(*)::int AS n FROM payments WHERE merchant_id = $1`, [merchantId])).rows[0].n as number;

  it('a monthly plan starts a Stripe subscription; three renewals by Stripe: three paid invoices here, ledger balanced', async () => {
    const m = await newMerchant(api);
    const plan = await monthlyPlan(m);
    const { res, sub, stripeSub } = await subscribe(m, plan.id);
    expect(res.body).toMatchObject({ status: 'succeeded', amount: 1999, provider: 'stripe' });
    expect(sub).toMatchObject({ status: 'active', managedBy: 'provider', provider: 'stripe', amount: 1999, interval: 'month' });
    // The first payment is the first invoice's PaymentIntent, for the plan's price, on the saved method.
    const atStripe = await stripe.subscriptions.retrieve(stripeSub, { expand: ['latest_invoice.payments'] });
    expect(atStripe).toMatchObject({ status: 'active', metadata: { merchant_id: m.id } });
    const first = atStripe.latest_invoice as Stripe.Invoice;
    expect(first).toMatchObject({ billing_reason: 'subscription_create', status: 'paid', amount_paid: 1999 });
    expect(first.payments?.data[0]?.payment.payment_intent).toBe(res.body.providerRef);
    expect((await settled('invoice.paid', first.id as string)).status).toBe('ignored');

    const before = await ledgerTotals(api, 'USD');
    for (let period = 1; period <= 3; period++) {
      // Paybridge's renewal job never charges it.
      expect((await advance(api, m.admin, 31)).ran.renewals).toBe(0);
      await emulator.renewSubscription(stripeSub);
      expect((await settled('invoice.paid', await latestInvoice(stripeSub))).status).toBe('processed');
    }
    const invoices = await invoicesOf(api, m.sk, sub.id);
    expect(invoices.map((i) => [i.kind, i.status, i.amount])).toEqual([
      ['first', 'paid', 1999],
      ['renewal', 'paid', 1999],
      ['renewal', 'paid', 1999],
      ['renewal', 'paid', 1999],
    ]);
    const { rows: payments } = await api.db.query(
      `SELECT status, amount, provider, provider_ref FROM payments WHERE merchant_id = $1 ORDER BY created_at`,
      [m.id],
    );
    expect(payments.map((p) => [p.status, p.amount, p.provider])).toEqual(Array.from({ length: 4 }, () => ['succeeded', 1999, 'stripe']));
    // Each renewal payment is the PaymentIntent Stripe charged for its invoice.
    const stripeInvoices = (await stripe.invoices.list({ subscription: stripeSub, expand: ['data.payments'] })).data.reverse();
    expect(payments.map((p) => p.provider_ref)).toEqual(stripeInvoices.map((i) => i.payments?.data[0]?.payment.payment_intent));
    expect(await subscriptionEvents(api, sub.id)).toEqual([
      'subscription.activated',
      'subscription.renewed',
      'subscription.renewed',
      'subscription.renewed',
    ]);
    const totals = await ledgerTotals(api, 'USD');
    expect(totals.debits).toBe(totals.credits);
    expect(Number(totals.credits) - Number(before.credits)).toBe(3 * 1999);
  });

  it('a failed renewal invoice: past_due mirrored, no retry of ours; Stripe pays it later: active again, once', async () => {
    const m = await newMerchant(api);
    const plan = await monthlyPlan(m);
    const { sub, stripeSub, customer } = await subscribe(m, plan.id);
    // The customer's card starts declining at Stripe.
    const failing = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer });
    await stripe.subscriptions.update(stripeSub, { default_payment_method: failing.id });
    await emulator.renewSubscription(stripeSub);
    const invoiceId = await latestInvoice(stripeSub);
    expect((await settled('invoice.payment_failed', invoiceId)).status).toBe('processed');
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'past_due' });
    const ran = await advance(api, m.admin, 40);
    expect(ran.ran).toEqual({ renewals: 0, retries: 0, canceled: 0, expired: 0 });

    // The customer saves a good card here and the subscription takes it (at Stripe too); Stripe's retry pays the open invoice.
    const saved = await api
      .http()
      .post(`/customers/${sub.customer.id}/payment-methods`)
      .set('X-Api-Key', m.sk)
      .set('Idempotency-Key', newKey())
      .send({ provider: 'stripe', token: 'pm_card_visa' });
    expect(saved.status).toBe(201);
    const changed = await subscriptionAction(api, m.sk, sub.id, 'payment-method', { paymentMethodId: saved.body.id });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ status: 'past_due', paymentMethodId: saved.body.id });
    const { rows } = await api.db.query(`SELECT provider_method_ref FROM payment_methods WHERE id = $1`, [saved.body.id]);
    expect((await stripe.subscriptions.retrieve(stripeSub)).default_payment_method).toBe(rows[0].provider_method_ref);
    await stripe.invoices.pay(invoiceId);
    expect((await settled('invoice.paid', invoiceId)).status).toBe('processed');
    expect((await invoicesOf(api, m.sk, sub.id)).map((i) => [i.kind, i.status, i.attempts])).toEqual([
      ['first', 'paid', 1],
      ['renewal', 'paid', 2],
    ]);
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'active' });
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.past_due', 'subscription.renewed']);

    // The same invoice.paid again (a new event, as a resend from the Dashboard would be): nothing booked twice.
    const invoice = await stripe.invoices.retrieve(invoiceId);
    const before = await ledgerTotals(api, 'USD');
    await emulator.sendEvent('invoice.paid', invoice);
    expect((await settled('invoice.paid', invoiceId, 2)).status).toBe('ignored');
    expect((await invoicesOf(api, m.sk, sub.id)).filter((i) => i.status === 'paid')).toHaveLength(2);
    expect(await paymentCount(m.id)).toBe(3); // first, the declined attempt, the paid one
    expect(await ledgerTotals(api, 'USD')).toEqual(before);
  });

  it('canceled at Stripe (customer.subscription.deleted, confirmed): canceled here', async () => {
    const m = await newMerchant(api);
    const { sub, stripeSub } = await subscribe(m, (await monthlyPlan(m)).id);
    await stripe.subscriptions.cancel(stripeSub);
    expect((await settled('customer.subscription.deleted', stripeSub)).status).toBe('processed');
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'canceled' });
    expect(await subscriptionEvents(api, sub.id)).toEqual(['subscription.activated', 'subscription.canceled']);
  });

  it('cancel at period end sets it at Stripe (active here until Stripe ends it); resume undoes it there; cancel now ends it at Stripe', async () => {
    const m = await newMerchant(api);
    const plan = await monthlyPlan(m);
    const { sub, stripeSub } = await subscribe(m, plan.id);
    const canceled = await subscriptionAction(api, m.sk, sub.id, 'cancel', { atPeriodEnd: true });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });
    expect(await stripe.subscriptions.retrieve(stripeSub)).toMatchObject({ status: 'active', cancel_at_period_end: true });
    const resumed = await subscriptionAction(api, m.sk, sub.id, 'resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'active', cancelAtPeriodEnd: false });
    expect(await stripe.subscriptions.retrieve(stripeSub)).toMatchObject({ cancel_at_period_end: false });

    // Canceled at period end again; at the period end Stripe deletes it (here: its deletion, as Stripe sends it then).
    expect((await subscriptionAction(api, m.sk, sub.id, 'cancel', { atPeriodEnd: true })).status).toBe(200);
    await stripe.subscriptions.cancel(stripeSub);
    expect((await settled('customer.subscription.deleted', stripeSub)).status).toBe('processed');
    expect(await getSubscription(api, m.sk, sub.id)).toMatchObject({ status: 'canceled' });

    // Cancel now: Stripe ends it at once; its deletion event then finds it ended here.
    const other = await subscribe(m, plan.id);
    const now = await subscriptionAction(api, m.sk, other.sub.id, 'cancel', { atPeriodEnd: false });
    expect(now.body).toMatchObject({ status: 'canceled' });
    expect(await stripe.subscriptions.retrieve(other.stripeSub)).toMatchObject({ status: 'canceled' });
    expect((await settled('customer.subscription.deleted', other.stripeSub)).status).toBe('ignored');
    expect(await subscriptionEvents(api, other.sub.id)).toEqual(['subscription.activated', 'subscription.canceled']);
  });

  it('an invoice.paid Stripe does not have, or one that contradicts Stripe’s invoice, is a dead letter: nothing written', async () => {
    const m = await newMerchant(api);
    const { sub, stripeSub } = await subscribe(m, (await monthlyPlan(m)).id);
    const first = await stripe.invoices.retrieve(await latestInvoice(stripeSub));
    const renewal = { ...first, id: 'in_forged0000000000000001', billing_reason: 'subscription_cycle' };
    await emulator.sendEvent('invoice.paid', renewal);
    const forged = await settled('invoice.paid', renewal.id);
    expect(forged.status).toBe('dead');
    expect(forged.last_error).toContain('does not confirm');

    await emulator.renewSubscription(stripeSub);
    const real = await stripe.invoices.retrieve(await latestInvoice(stripeSub));
    expect((await settled('invoice.paid', real.id as string)).status).toBe('processed');
    await emulator.sendEvent('invoice.paid', { ...real, amount_paid: 99 });
    const contradicted = await settled('invoice.paid', real.id as string, 2);
    expect(contradicted.status).toBe('dead');
    expect(contradicted.last_error).toContain('amount');
    expect((await invoicesOf(api, m.sk, sub.id)).map((i) => [i.kind, i.status])).toEqual([
      ['first', 'paid'],
      ['renewal', 'paid'],
    ]);
    expect(await paymentCount(m.id)).toBe(2);
  });

  it('a renewal of a Stripe subscription that is none of ours (made at Stripe with our metadata) is a dead letter', async () => {
    const m = await newMerchant(api);
    const { customer } = await subscribe(m, (await monthlyPlan(m)).id);
    const price = await stripe.prices.create({
      currency: 'usd',
      unit_amount: 1999,
      recurring: { interval: 'month' },
      product_data: { name: 'Elsewhere' },
    });
    const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer });
    const other = await stripe.subscriptions.create({
      customer,
      items: [{ price: price.id }],
      default_payment_method: pm.id,
      metadata: { merchant_id: m.id },
    });
    await emulator.renewSubscription(other.id);
    const row = await settled('invoice.paid', await latestInvoice(other.id));
    expect(row.status).toBe('dead');
    expect(row.last_error).toContain('names no provider-managed subscription');
  });

  it('a first invoice Stripe declines creates no Stripe subscription: 402, the payment failed, ours incomplete and never renewed', async () => {
    const m = await newMerchant(api);
    const plan = await monthlyPlan(m);
    const email = uniqueEmail();
    const token = 'pm_card_chargeCustomerFail'; // attaches, then declines
    const res = await processPayment(
      api,
      m.sk,
      processBody(plan.id, token, { customer: { email, name: 'Sub Scriber' }, paymentMethod: { provider: 'stripe', token } }),
    );
    expect(res.status).toBe(402);
    expect(emulator.subscriptions().filter((s) => (s.metadata as Record<string, string>).merchant_id === m.id)).toHaveLength(0);
    const list = await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', m.sk);
    expect((list.body.data as SubscriptionBody[]).map((s) => s.status)).toEqual(['incomplete']);
    const { rows } = await api.db.query(`SELECT status FROM payments WHERE merchant_id = $1`, [m.id]);
    expect(rows.map((r) => r.status)).toEqual(['failed']);
  });

  it('a cart of a subscription with another line (or a coupon) is refused for Stripe: 422, nothing charged', async () => {
    const m = await newMerchant(api);
    const plan = await monthlyPlan(m);
    const other = await createProduct(api, m.admin);
    const charges = emulator.paymentIntents().length;
    const res = await processPayment(
      api,
      m.sk,
      processBody(plan.id, 'pm_card_visa', {
        items: [
          { productId: plan.id, quantity: 1 },
          { productId: other.id, quantity: 1 },
        ],
        paymentMethod: { provider: 'stripe', token: 'pm_card_visa' },
      }),
    );
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('subscription_cart_not_supported');
    expect(emulator.paymentIntents()).toHaveLength(charges);
  });
});
