import Stripe from 'stripe';
import { StripeEmulator } from './stripe-emulator';
import { WebhookReceiver } from './webhook-receiver';

const SECRET = 'whsec_test_emulator_strict';

/** The Stripe emulator is as strict as Stripe: unknown parameters, and refunds that settle later. */
describe('StripeEmulator strictness (stripe SDK)', () => {
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

  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => undefined,
      (err: unknown) => err as Stripe.errors.StripeError,
    );
  const paid = () =>
    stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      return_url: 'https://s.example/r',
    });
  /** The verified event of `type` about object `objectId`. */
  async function webhook(type: string, objectId: string): Promise<Stripe.Event> {
    const request = await receiver.waitFor((r) => {
      const event = JSON.parse(r.body) as { type: string; data: { object: { id: string } } };
      return event.type === type && event.data.object.id === objectId;
    });
    return stripe.webhooks.constructEvent(request.body, String(request.headers['stripe-signature']), SECRET);
  }

  it('refuses an unknown parameter with 400 parameter_unknown naming it, does nothing, and does not keep the key', async () => {
    const before = emulator.paymentIntents().length;
    const params = { amount: 2000, currency: 'usd', colour: 'red' } as unknown as Stripe.PaymentIntentCreateParams;
    const err = await refusal(stripe.paymentIntents.create(params, { idempotencyKey: 'strict-1' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({
      statusCode: 400,
      code: 'parameter_unknown',
      param: 'colour',
      message: 'Received unknown parameter: colour',
    });
    expect(emulator.paymentIntents()).toHaveLength(before);
    // A validation error is not stored under the key: the corrected request runs.
    const fixed = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }, { idempotencyKey: 'strict-1' });
    expect(fixed.status).toBe('requires_payment_method');
  });

  it('names a nested unknown parameter with its full bracket path', async () => {
    const params = {
      mode: 'payment',
      success_url: 'https://s.example/ok',
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'T', colour: 'red' } } }],
    } as unknown as Stripe.Checkout.SessionCreateParams;
    const err = await refusal(stripe.checkout.sessions.create(params));
    expect(err).toMatchObject({ code: 'parameter_unknown', param: 'line_items[0][price_data][product_data][colour]' });
    const intentData = { mode: 'payment', success_url: 'https://s.example/ok', payment_intent_data: { metadta: { a: 'b' } } };
    expect(await refusal(stripe.checkout.sessions.create(intentData as unknown as Stripe.Checkout.SessionCreateParams))).toMatchObject({
      param: 'payment_intent_data[metadta]',
    });
  });

  it('refuses unknown query parameters on reads and lists too, and accepts the documented ones', async () => {
    const pi = await paid();
    expect(await refusal(stripe.refunds.list({ payment_intnt: pi.id } as unknown as Stripe.RefundListParams))).toMatchObject({
      code: 'parameter_unknown',
      param: 'payment_intnt',
    });
    expect(await refusal(stripe.paymentIntents.retrieve(pi.id, { expnd: ['latest_charge'] } as never))).toMatchObject({ param: 'expnd' });
    const listed = await stripe.paymentIntents.list({ created: { gte: 0 }, limit: 3, expand: ['data.latest_charge'] });
    expect(listed.data[0].id).toBe(pi.id);
  });

  it('answers a held refund pending, then settles it succeeded with refund.updated and charge.refund.updated', async () => {
    const pi = await paid();
    emulator.holdNextRefunds(1);
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
    expect(refund.status).toBe('pending');
    const charge = await stripe.charges.retrieve(String(pi.latest_charge));
    expect(charge.amount_refunded).toBe(1500); // Stripe counts a pending refund as refunded on the charge

    await emulator.settleRefund(refund.id, 'succeeded');
    expect((await stripe.refunds.retrieve(refund.id)).status).toBe('succeeded');
    for (const type of ['refund.updated', 'charge.refund.updated']) {
      const event = await webhook(type, refund.id);
      expect(event.data.object).toMatchObject({ id: refund.id, status: 'succeeded' });
      expect(event.data.previous_attributes).toEqual({ status: 'pending' });
    }
    // The next refund is not held.
    expect((await stripe.refunds.create({ payment_intent: pi.id, amount: 100 })).status).toBe('succeeded');
  });

  it('settles a held refund failed: its amount is no longer refunded on the charge, refund.failed is sent', async () => {
    const pi = await paid();
    emulator.holdNextRefunds(1);
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 2000 });
    await emulator.settleRefund(refund.id, 'failed');
    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    expect((await stripe.charges.retrieve(String(pi.latest_charge))).amount_refunded).toBe(0);
    expect((await webhook('refund.failed', refund.id)).data.object).toMatchObject({ status: 'failed' });
    await expect(emulator.settleRefund(refund.id, 'succeeded')).rejects.toThrow('not pending');
  });
});
