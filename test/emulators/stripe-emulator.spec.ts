import Stripe from 'stripe';
import { StripeEmulator } from './stripe-emulator';
import { ReceivedRequest, WebhookReceiver } from './webhook-receiver';

const SECRET = 'whsec_test_emulator_secret';

describe('StripeEmulator with the stripe SDK', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  const receiver = new WebhookReceiver();
  let stripe: Stripe;

  beforeAll(async () => {
    const base = new URL(await emulator.start());
    emulator.webhookUrl = await receiver.start('/webhooks/stripe');
    stripe = new Stripe('sk_test_emulator', {
      host: base.hostname,
      port: Number(base.port),
      protocol: 'http',
      maxNetworkRetries: 0,
      timeout: 2000,
      telemetry: false,
    });
  });

  afterAll(async () => {
    await emulator.stop();
    await receiver.stop();
  });

  afterEach(() => {
    emulator.clearFaults();
  });

  /** The verified event of `type` about object `objectId`. */
  async function webhook(type: string, objectId: string): Promise<Stripe.Event> {
    const request = await receiver.waitFor((r) => {
      const event = JSON.parse(r.body) as { type: string; data: { object: { id: string } } };
      return event.type === type && event.data.object.id === objectId;
    });
    return verify(request);
  }

  function verify(request: ReceivedRequest): Stripe.Event {
    return stripe.webhooks.constructEvent(request.body, String(request.headers['stripe-signature']), SECRET);
  }

  function pay(paymentMethod: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}): Promise<Stripe.PaymentIntent> {
    return stripe.paymentIntents.create({
      amount: 2000,
      currency: 'usd',
      payment_method: paymentMethod,
      confirm: true,
      return_url: 'https://shop.example/return',
      ...extra,
    });
  }

  it.each(['pm_card_visa', 'pm_card_mastercard'])('charges %s: succeeded with a latest_charge and payment_intent.succeeded', async (pm) => {
    const pi = await pay(pm, { metadata: { order: 'ord_1' }, description: 'T-shirt' });
    expect(pi).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 2000,
      currency: 'usd',
      metadata: { order: 'ord_1' },
    });
    expect(pi.latest_charge).toMatch(/^ch_/);
    const charge = emulator.charges().find((c) => c.id === pi.latest_charge);
    expect(charge).toMatchObject({ amount: 2000, payment_intent: pi.id, status: 'succeeded', paid: true });
    const event = await webhook('payment_intent.succeeded', pi.id);
    expect(event.data.object).toMatchObject({ id: pi.id, status: 'succeeded' });
  });

  it.each([
    ['pm_card_chargeDeclined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
  ])('declines %s with a 402 the SDK maps to StripeCardError (%s)', async (pm, declineCode) => {
    const before = emulator.charges().length;
    const error = await pay(pm).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = error as Stripe.errors.StripeCardError;
    expect(cardError.statusCode).toBe(402);
    expect(cardError.code).toBe('card_declined');
    expect(cardError.decline_code).toBe(declineCode);
    expect(cardError.payment_intent?.status).toBe('requires_payment_method');
    expect(cardError.payment_intent?.last_payment_error?.decline_code).toBe(declineCode);
    expect(emulator.charges()).toHaveLength(before);
    const event = await webhook('payment_intent.payment_failed', String(cardError.payment_intent?.id));
    expect(event.type).toBe('payment_intent.payment_failed');
  });

  it('asks for 3-D Secure with pm_card_authenticationRequired and succeeds through the emulator page', async () => {
    const pi = await pay('pm_card_authenticationRequired');
    expect(pi.status).toBe('requires_action');
    expect(pi.next_action?.type).toBe('redirect_to_url');
    const url = String(pi.next_action?.redirect_to_url?.url);
    expect(pi.next_action?.redirect_to_url?.return_url).toBe('https://shop.example/return');

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Complete authentication');

    const done = await fetch(`${emulator.url}/_emulator/payment_intents/${pi.id}/3ds`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'outcome=succeed',
      redirect: 'manual',
    });
    expect(done.status).toBe(303);
    const location = new URL(String(done.headers.get('location')));
    expect(location.origin + location.pathname).toBe('https://shop.example/return');
    expect(location.searchParams.get('payment_intent')).toBe(pi.id);
    expect(location.searchParams.get('redirect_status')).toBe('succeeded');

    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    await webhook('payment_intent.succeeded', pi.id);
  });

  it('fails 3-D Secure through completeThreeDSecure(id, "fail")', async () => {
    const pi = await pay('pm_card_authenticationRequired');
    const failed = await emulator.completeThreeDSecure(pi.id, 'fail');
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error?.code).toBe('payment_intent_authentication_failure');
    await webhook('payment_intent.payment_failed', pi.id);
  });

  it('refuses to confirm without return_url when automatic payment methods allow redirects, like Stripe', async () => {
    const error = await stripe.paymentIntents
      .create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  it('creates, then confirms, retrieves and lists payment intents', async () => {
    const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'eur', allowed_payment_method_types: ['card'] });
    expect(created.status).toBe('requires_payment_method');
    const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
    expect(confirmed.status).toBe('succeeded');
    const retrieved = await stripe.paymentIntents.retrieve(created.id, { expand: ['latest_charge'] });
    expect((retrieved.latest_charge as Stripe.Charge).amount).toBe(1500);
    const list = await stripe.paymentIntents.list({ created: { gte: created.created }, limit: 100 });
    expect(list.data.map((p) => p.id)).toContain(created.id);
    expect(list.has_more).toBe(false);
    const missing = await stripe.paymentIntents.retrieve('pi_missing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((missing as Stripe.errors.StripeError).statusCode).toBe(404);
  });

  it('refunds partially, then the rest, then refuses another refund', async () => {
    const pi = await pay('pm_card_visa');
    const first = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    expect(first).toMatchObject({ object: 'refund', amount: 500, status: 'succeeded', payment_intent: pi.id });
    const tooMuch = await stripe.refunds.create({ payment_intent: pi.id, amount: 5000 }).catch((e: unknown) => e);
    expect((tooMuch as Stripe.errors.StripeError).code).toBe('amount_too_large');
    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(1500);
    const again = await stripe.refunds.create({ payment_intent: pi.id }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((again as Stripe.errors.StripeError).code).toBe('charge_already_refunded');
    const charge = await stripe.charges.retrieve(String(pi.latest_charge));
    expect(charge).toMatchObject({ amount_refunded: 2000, refunded: true });
    expect(emulator.refunds().filter((r) => r.payment_intent === pi.id)).toHaveLength(2);
    await emulator.idle();
    const refunded = receiver
      .jsonBodies<{ type: string; data: { object: { id: string; amount_refunded: number } } }>()
      .filter((e) => e.type === 'charge.refunded' && e.data.object.id === charge.id);
    expect(refunded.map((e) => e.data.object.amount_refunded)).toEqual([500, 2000]);
  });

  it('creates a checkout session, pays it on the hosted page, and sends a verifiable checkout.session.completed', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { price_data: { currency: 'usd', unit_amount: 2500, product_data: { name: 'T-shirt' } }, quantity: 2 },
        { price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Sticker' } }, quantity: 1 },
      ],
      success_url: 'https://shop.example/ok?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://shop.example/cancel',
      client_reference_id: 'order_42',
      customer_email: 'buyer@example.com',
      metadata: { order: 'order_42' },
      payment_intent_data: { metadata: { order: 'order_42' } },
    });
    expect(session).toMatchObject({
      object: 'checkout.session',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: 5500,
      currency: 'usd',
    });
    expect(session.id).toMatch(/^cs_test_/);
    const items = await stripe.checkout.sessions.listLineItems(session.id);
    expect(items.data.map((i) => i.description)).toEqual(['T-shirt', 'Sticker']);

    const page = await fetch(String(session.url));
    expect(await page.text()).toContain('Pay');
    const paid = await fetch(`${emulator.url}/_emulator/checkout/sessions/${session.id}/pay`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'payment_method=pm_card_visa',
      redirect: 'manual',
    });
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(`https://shop.example/ok?session=${session.id}`);

    const event = await webhook('checkout.session.completed', session.id);
    const completed = event.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({
      status: 'complete',
      payment_status: 'paid',
      client_reference_id: 'order_42',
      metadata: { order: 'order_42' },
    });
    const pi = await stripe.paymentIntents.retrieve(String(completed.payment_intent));
    expect(pi).toMatchObject({ status: 'succeeded', amount: 5500, metadata: { order: 'order_42' } });
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete');
  });

  it('completes a subscription-mode session with a stored price, and expires another one', async () => {
    const price = await stripe.prices.create({
      currency: 'usd',
      unit_amount: 3999,
      recurring: { interval: 'month' },
      product_data: { name: 'Gold' },
    });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: 'https://shop.example/ok',
      subscription_data: { metadata: { plan: 'gold' } },
    });
    const result = await emulator.payCheckoutSession(session.id, { email: 'sub@example.com' });
    expect(result.session.subscription).toMatch(/^sub_/);
    const event = await webhook('checkout.session.completed', session.id);
    expect((event.data.object as Stripe.Checkout.Session).subscription).toBe(result.session.subscription);
    const sub = await stripe.subscriptions.retrieve(String(result.session.subscription));
    expect(sub).toMatchObject({ status: 'active', metadata: { plan: 'gold' } });

    const wrongMode = await stripe.checkout.sessions
      .create({ mode: 'payment', line_items: [{ price: price.id, quantity: 1 }], success_url: 'https://shop.example/ok' })
      .catch((e: unknown) => e);
    expect(wrongMode).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);

    const other = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'Mug' } }, quantity: 1 }],
      success_url: 'https://shop.example/ok',
    });
    const expired = await stripe.checkout.sessions.expire(other.id);
    expect(expired.status).toBe('expired');
    await webhook('checkout.session.expired', other.id);
  });

  it('replays the stored answer for the same Idempotency-Key and refuses the key with other parameters', async () => {
    const key = `idem_${Date.now()}_${Math.random()}`;
    const chargesBefore = emulator.charges().length;
    const first = await stripe.paymentIntents.create(params(2000), { idempotencyKey: key });
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    const second = await stripe.paymentIntents.create(params(2000), { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(emulator.charges()).toHaveLength(chargesBefore + 1);

    const mismatch = await stripe.paymentIntents.create(params(3000), { idempotencyKey: key }).catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((mismatch as Stripe.errors.StripeError).type).toBe('StripeIdempotencyError');

    function params(amount: number): Stripe.PaymentIntentCreateParams {
      return { amount, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/r' };
    }
  });

  it('failNext answers Stripe error objects the SDK maps to StripeAPIError (500) and StripeRateLimitError (429)', async () => {
    const before = emulator.paymentIntents().length;
    emulator.failNext(1, 500);
    const serverError = await pay('pm_card_visa').catch((e: unknown) => e);
    expect(serverError).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect((serverError as Stripe.errors.StripeError).statusCode).toBe(500);
    emulator.failNext(1, 429);
    const limited = await pay('pm_card_visa').catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(emulator.paymentIntents()).toHaveLength(before);
    // Retrieval is not a money call: unaffected by a pending money fault.
    emulator.failNext(1, 500);
    const existing = emulator.paymentIntents()[0];
    await expect(stripe.paymentIntents.retrieve(existing.id)).resolves.toMatchObject({ id: existing.id });
    expect((await pay('pm_card_visa').catch((e: unknown) => e)) instanceof Stripe.errors.StripeAPIError).toBe(true);
    expect((await pay('pm_card_visa')).status).toBe('succeeded');

    // The same through the control route, and scope 'any' reaching a retrieval.
    const injected = await fetch(`${emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'kind=fail&count=1&status=503&scope=any',
    });
    expect(await injected.json()).toEqual({ faults: [{ kind: 'fail', status: 503, scope: 'any' }] });
    const outage = await stripe.paymentIntents.retrieve(existing.id).catch((e: unknown) => e);
    expect(outage).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect((outage as Stripe.errors.StripeError).statusCode).toBe(503);
  });

  it('hangNext never answers: the SDK times out and nothing is charged', async () => {
    const before = emulator.charges().length;
    emulator.hangNext(1);
    const error = await stripe.paymentIntents
      .create(
        { amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/r' },
        { timeout: 500 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect((error as Error).message).toMatch(/timeout/i);
    expect(emulator.charges()).toHaveLength(before);
  });

  it('dropAfterChargeNext charges, then drops the connection: the SDK sees a connection error, a retry with the key is replayed', async () => {
    const key = `drop_${Date.now()}`;
    const before = emulator.charges().length;
    const requestsBefore = emulator.requestLog().length;
    // Two: stripe-node retries once on a reset connection even with maxNetworkRetries 0 (same key).
    emulator.dropAfterChargeNext(2);
    const params: Stripe.PaymentIntentCreateParams = {
      amount: 2000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      return_url: 'https://shop.example/r',
    };
    const error = await stripe.paymentIntents.create(params, { idempotencyKey: key }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(emulator.charges()).toHaveLength(before + 1);
    const attempts = emulator.requestLog().slice(requestsBefore);
    expect(attempts.map((r) => r.fault)).toEqual(['drop', 'drop']);
    expect(attempts.every((r) => r.headers['idempotency-key'] === key)).toBe(true);

    const retried = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(retried.status).toBe('succeeded');
    expect(retried.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(emulator.charges()).toHaveLength(before + 1);
  });

  it('resends events (new signature, or the captured one) and signs them so only the right secret verifies', async () => {
    const pi = await pay('pm_card_visa');
    const original = await webhook('payment_intent.succeeded', pi.id);
    const countBefore = receiver.received.length;
    await emulator.resend(original.id, { sameSignature: true });
    const replay = receiver.received[countBefore];
    const firstDelivery = receiver.received.find((r) => (JSON.parse(r.body) as { id: string }).id === original.id);
    expect(replay.body).toBe(firstDelivery?.body);
    expect(replay.headers['stripe-signature']).toBe(firstDelivery?.headers['stripe-signature']);
    expect(verify(replay).id).toBe(original.id);

    const sent = await emulator.sendEvent('customer.created', { id: 'cus_manual', object: 'customer' });
    const request = await receiver.waitFor((r) => (JSON.parse(r.body) as { id: string }).id === sent.id);
    expect(verify(request).type).toBe('customer.created');
    expect(() => stripe.webhooks.constructEvent(request.body, String(request.headers['stripe-signature']), 'whsec_other')).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    const forged = emulator.signPayload(request.body, Math.floor(Date.now() / 1000), 'whsec_attacker');
    expect(() => stripe.webhooks.constructEvent(request.body, forged, SECRET)).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('rejects requests without a valid API key', async () => {
    const base = new URL(emulator.url);
    const anonymous = new Stripe('sk_live_wrong', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
    await expect(anonymous.paymentIntents.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });
});
