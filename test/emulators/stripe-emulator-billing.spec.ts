import Stripe from 'stripe';
import { StripeEmulator } from './stripe-emulator';
import { WebhookReceiver } from './webhook-receiver';

const SECRET = 'whsec_test_emulator_billing';
const DAY = 86_400;

/** Saved methods and Stripe Billing in the Stripe emulator, through the stripe SDK: as strict as Stripe. */
describe('StripeEmulator: Customers, PaymentMethods and Billing (stripe SDK)', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  const receiver = new WebhookReceiver();
  let stripe: Stripe;
  let monthly: Stripe.Price;

  beforeAll(async () => {
    const base = new URL(await emulator.start());
    emulator.webhookUrl = await receiver.start('/webhooks/stripe');
    stripe = new Stripe('sk_test_emulator', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
    const product = await stripe.products.create({ name: 'Pro plan' });
    monthly = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 1500, recurring: { interval: 'month' } });
  });
  afterAll(async () => {
    await emulator.idle();
    await emulator.stop();
    await receiver.stop();
  });

  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected Stripe to refuse');
      },
      (err: unknown) => err as Stripe.errors.StripeError,
    );
  /** Verified events (signed with the secret) about `objectId`, oldest first. */
  const eventsFor = (objectId: string): Stripe.Event[] =>
    receiver.received
      .map((r) => stripe.webhooks.constructEvent(r.body, String(r.headers['stripe-signature']), SECRET))
      .filter((e) => (e.data.object as { id?: string }).id === objectId || subscriptionOf(e) === objectId);
  const subscriptionOf = (e: Stripe.Event) =>
    (e.data.object as { parent?: { subscription_details?: { subscription?: string } } }).parent?.subscription_details?.subscription;
  const start = Math.floor(Date.UTC(2027, 0, 15) / 1000);

  /** A customer on a new test clock with `pm` attached. */
  async function customerWith(pm: string) {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const customer = await stripe.customers.create({ email: 'billing@example.com', test_clock: clock.id });
    const method = await stripe.paymentMethods.attach(pm, { customer: customer.id });
    return { clock, customer, method };
  }
  const subscribe = (customer: string, pm: string, extra: Partial<Stripe.SubscriptionCreateParams> = {}) =>
    stripe.subscriptions.create({ customer, items: [{ price: monthly.id }], default_payment_method: pm, ...extra });
  const advance = (clock: string, to: number) => stripe.testHelpers.testClocks.advance(clock, { frozen_time: to });

  describe('customers and payment methods', () => {
    it('attach and detach as at Stripe: a detached method is spent, another customer’s is refused', async () => {
      const a = await stripe.customers.create({ email: 'a@example.com' });
      const b = await stripe.customers.create({ email: 'b@example.com' });
      const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: a.id });
      expect(pm).toMatchObject({ customer: a.id, card: { brand: 'visa', last4: '4242' } });
      expect((await stripe.customers.listPaymentMethods(a.id)).data.map((m) => m.id)).toEqual([pm.id]);
      expect((await refusal(stripe.paymentMethods.attach(pm.id, { customer: b.id }))).message).toMatch(/already been attached/);
      expect(
        (
          await refusal(
            stripe.paymentIntents.create({
              amount: 1000,
              currency: 'usd',
              customer: b.id,
              payment_method: pm.id,
              confirm: true,
              off_session: true,
            }),
          )
        ).param,
      ).toBe('payment_method');
      await stripe.paymentMethods.detach(pm.id);
      expect((await refusal(stripe.paymentMethods.detach(pm.id))).message).toMatch(/not attached/);
      expect((await refusal(stripe.paymentMethods.attach(pm.id, { customer: a.id }))).message).toMatch(/may not be used again/);
      expect(
        (
          await refusal(
            stripe.paymentIntents.create({
              amount: 1000,
              currency: 'usd',
              customer: a.id,
              payment_method: pm.id,
              confirm: true,
              off_session: true,
            }),
          )
        ).message,
      ).toMatch(/may not be used again/);
    });

    it('a method used once without a customer is spent; off_session needs confirm; a declining card cannot be attached', async () => {
      const c = await stripe.customers.create({ email: 'c@example.com' });
      const used = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        return_url: 'https://shop.example/r',
      });
      expect((await refusal(stripe.paymentMethods.attach(String(used.payment_method), { customer: c.id }))).message).toMatch(
        /may not be used again/,
      );
      expect((await refusal(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', off_session: true }))).param).toBe('off_session');
      const declined = await refusal(stripe.paymentMethods.attach('pm_card_chargeDeclined', { customer: c.id }));
      expect(declined).toMatchObject({ type: 'StripeCardError', decline_code: 'generic_decline' });
      await expect(stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: c.id })).resolves.toMatchObject({
        customer: c.id,
      });
    });
  });

  describe('subscriptions, invoices and test clocks', () => {
    it('creates an active subscription whose first invoice is charged off session, and renews it once per period as the clock moves', async () => {
      const { clock, customer, method } = await customerWith('pm_card_visa');
      const sub = await subscribe(customer.id, method.id, { metadata: { paybridge_subscription: 'sub_ours' }, expand: ['latest_invoice'] });
      expect(sub).toMatchObject({ status: 'active', customer: customer.id, default_payment_method: method.id, test_clock: clock.id });
      expect(sub.latest_invoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_create', amount_paid: 1500 });
      expect(sub.items.data[0]).toMatchObject({
        current_period_start: start,
        current_period_end: Math.floor(Date.UTC(2027, 1, 15) / 1000),
      });

      const advanced = await advance(clock.id, Math.floor(Date.UTC(2027, 3, 20) / 1000));
      expect(advanced.status).toBe('ready');
      const invoices = (await stripe.invoices.list({ subscription: sub.id })).data.reverse();
      expect(invoices.map((i) => [i.billing_reason, i.status, i.amount_paid, i.period_start])).toEqual([
        ['subscription_create', 'paid', 1500, start],
        ['subscription_cycle', 'paid', 1500, Math.floor(Date.UTC(2027, 1, 15) / 1000)],
        ['subscription_cycle', 'paid', 1500, Math.floor(Date.UTC(2027, 2, 15) / 1000)],
        ['subscription_cycle', 'paid', 1500, Math.floor(Date.UTC(2027, 3, 15) / 1000)],
      ]);
      const paid = eventsFor(sub.id).filter((e) => e.type === 'invoice.paid');
      expect(paid.map((e) => (e.data.object as Stripe.Invoice).billing_reason)).toEqual([
        'subscription_create',
        'subscription_cycle',
        'subscription_cycle',
        'subscription_cycle',
      ]);
      // Every renewal charged a PaymentIntent of the customer, with the saved method.
      const intents = emulator.paymentIntents().filter((pi) => pi.customer === customer.id);
      expect(intents.map((pi) => [pi.status, pi.payment_method])).toEqual(Array(4).fill(['succeeded', method.id]));
      expect((await stripe.subscriptions.retrieve(sub.id)).items.data[0].current_period_end).toBe(Math.floor(Date.UTC(2027, 4, 15) / 1000));
    });

    it('dunning: a failed renewal makes it past_due with a retry 3 days later; a new method pays the retry and it is active again', async () => {
      const { clock, customer, method } = await customerWith('pm_card_visa');
      const sub = await subscribe(customer.id, method.id);
      const failing = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
      await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
      const renewal = Math.floor(Date.UTC(2027, 1, 15) / 1000);
      await advance(clock.id, renewal + DAY);
      const pastDue = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
      expect(pastDue.status).toBe('past_due');
      expect(pastDue.latest_invoice).toMatchObject({ status: 'open', attempt_count: 1, next_payment_attempt: renewal + 3 * DAY });

      await stripe.subscriptions.update(sub.id, { default_payment_method: method.id });
      await advance(clock.id, renewal + 4 * DAY);
      const recovered = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
      expect(recovered.status).toBe('active');
      expect(recovered.latest_invoice).toMatchObject({ status: 'paid', attempt_count: 2 });
      const types = eventsFor(sub.id)
        .map((e) => e.type)
        .filter((t) => t.startsWith('invoice.pa') || t === 'customer.subscription.updated');
      expect(types).toEqual([
        'invoice.paid',
        'customer.subscription.updated', // default_payment_method
        'invoice.payment_failed',
        'customer.subscription.updated', // active → past_due
        'customer.subscription.updated', // default_payment_method
        'invoice.paid',
        'customer.subscription.updated', // past_due → active
      ]);
    });

    it('every retry declines: after the schedule (3, 5, 7 days) the subscription is canceled', async () => {
      const { clock, customer, method } = await customerWith('pm_card_visa');
      const sub = await subscribe(customer.id, method.id);
      const failing = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
      await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
      await advance(clock.id, Math.floor(Date.UTC(2027, 2, 10) / 1000));
      const ended = await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
      expect(ended.status).toBe('canceled');
      expect(ended.latest_invoice).toMatchObject({ status: 'open', attempt_count: 4, next_payment_attempt: null });
      expect(eventsFor(sub.id).filter((e) => e.type === 'invoice.payment_failed')).toHaveLength(4);
      expect(eventsFor(sub.id).filter((e) => e.type === 'customer.subscription.deleted')).toHaveLength(1);
    });

    it('without a clock, the renew control route bills the next period with the saved method; a decline leaves an invoice to pay', async () => {
      const customer = await stripe.customers.create({ email: 'realtime@example.com' });
      const method = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
      const sub = await subscribe(customer.id, method.id);
      const renew = () => fetch(`${emulator.url}/_emulator/subscriptions/${sub.id}/renew`, { method: 'POST' }).then((r) => r.json());
      await expect(renew()).resolves.toMatchObject({ status: 'active' });
      const failing = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', { customer: customer.id });
      await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
      await expect(renew()).resolves.toMatchObject({ status: 'past_due' });
      const open = (await stripe.invoices.list({ subscription: sub.id, status: 'open' })).data[0];
      expect((await refusal(stripe.invoices.pay(open.id))).type).toBe('StripeCardError');
      await stripe.subscriptions.update(sub.id, { default_payment_method: method.id });
      await expect(stripe.invoices.pay(open.id)).resolves.toMatchObject({ status: 'paid', attempt_count: 3 });
      expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
      expect((await stripe.invoices.list({ subscription: sub.id })).data.map((i) => i.status)).toEqual(['paid', 'paid', 'paid']);
    });

    it('cancel_at_period_end: ends at the period end without another invoice', async () => {
      const { clock, customer, method } = await customerWith('pm_card_visa');
      const sub = await subscribe(customer.id, method.id);
      await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
      await advance(clock.id, Math.floor(Date.UTC(2027, 5, 1) / 1000));
      expect(await stripe.subscriptions.retrieve(sub.id)).toMatchObject({
        status: 'canceled',
        ended_at: Math.floor(Date.UTC(2027, 1, 15) / 1000),
      });
      expect((await stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);
    });

    it('refuses what Stripe refuses: a method not attached to the customer, a one-time price, an unmodelled parameter, a clock moved back', async () => {
      const { clock, customer } = await customerWith('pm_card_visa');
      const other = await customerWith('pm_card_visa');
      expect((await refusal(subscribe(customer.id, other.method.id))).param).toBe('default_payment_method');
      const oneTime = await stripe.prices.create({ product: String(monthly.product), currency: 'usd', unit_amount: 500 });
      const method = (await stripe.customers.listPaymentMethods(customer.id)).data[0];
      expect(
        (
          await refusal(
            stripe.subscriptions.create({ customer: customer.id, items: [{ price: oneTime.id }], default_payment_method: method.id }),
          )
        ).param,
      ).toBe('items[0][price]');
      expect((await refusal(subscribe(customer.id, method.id, { trial_period_days: 7 }))).code).toBe('parameter_unknown');
      expect((await refusal(advance(clock.id, start - DAY))).param).toBe('frozen_time');
    });

    it('a customer created with payment_method and invoice_settings: its invoices charge that default; no method at all is refused', async () => {
      const customer = await stripe.customers.create({
        email: 'inv@example.com',
        payment_method: 'pm_card_visa',
        invoice_settings: { default_payment_method: 'pm_card_visa' },
      });
      const pmId = String(customer.invoice_settings.default_payment_method);
      expect(pmId).toMatch(/^pm_/);
      const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: monthly.id }] });
      expect(sub).toMatchObject({ status: 'active', default_payment_method: null });
      expect(
        emulator
          .paymentIntents()
          .filter((pi) => pi.customer === customer.id)
          .map((pi) => pi.payment_method),
      ).toEqual([pmId]);
      const bare = await stripe.customers.create({ email: 'bare@example.com' });
      expect((await refusal(stripe.subscriptions.create({ customer: bare.id, items: [{ price: monthly.id }] }))).param).toBe(
        'default_payment_method',
      );
      expect(
        (await refusal(stripe.customers.create({ email: 'x@example.com', invoice_settings: { default_payment_method: 'pm_card_visa' } })))
          .param,
      ).toBe('invoice_settings[default_payment_method]');
    });

    it('payment_behavior error_if_incomplete: a declining first charge is a card error and no subscription; allow_incomplete: incomplete', async () => {
      const { customer, method } = await customerWith('pm_card_chargeCustomerFail');
      const before = emulator.subscriptions().length;
      const err = await refusal(subscribe(customer.id, method.id, { payment_behavior: 'error_if_incomplete' }));
      expect(err).toMatchObject({ type: 'StripeCardError', decline_code: 'generic_decline' });
      expect(emulator.subscriptions()).toHaveLength(before);
      const incomplete = await subscribe(customer.id, method.id, { expand: ['latest_invoice'] });
      expect(incomplete).toMatchObject({ status: 'incomplete', latest_invoice: { status: 'open' } });
    });
  });
});
