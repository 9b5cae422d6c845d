import { ConfigService } from '@nestjs/config';
import type { HttpAdapterHost } from '@nestjs/core';
import { PublicUrl } from '../../src/common/public-url';
import { Env, validateEnv } from '../../src/config/env';
import { ProviderDeclineError, SaveMethodInput } from '../../src/payments/providers/payment-provider';
import { StripeProvider } from '../../src/payments/providers/stripe/stripe.provider';
import { StripeEmulator } from '../emulators/stripe-emulator';
import { newKey } from '../factories/payments';

const SECRET = 'whsec_paybridge_stripe_saved';

/** Saved methods at Stripe: the adapter with the real stripe SDK against the emulator (no mocks). */
describe('Stripe saved payment methods (StripeProvider, stripe SDK, StripeEmulator)', () => {
  const emulator = new StripeEmulator({ webhookSecret: SECRET });
  let stripe: StripeProvider;

  beforeAll(async () => {
    await emulator.start();
    const config = new ConfigService<Env, true>({
      ...validateEnv({
        STRIPE_SECRET_KEY: 'sk_test_saved',
        STRIPE_WEBHOOK_SECRET: SECRET,
        STRIPE_API_BASE: emulator.url,
        PUBLIC_URL: 'http://127.0.0.1:42001',
      }),
    });
    stripe = new StripeProvider(config, new PublicUrl(config, {} as HttpAdapterHost));
  });
  afterAll(() => emulator.stop());

  const customer = { id: 'cus_ours1', email: 'saved@example.com', name: 'Ana Saved' };
  const save = (token: string, providerCustomerRef: string | null = null, key = newKey()): ReturnType<StripeProvider['saveMethod']> => {
    const input: SaveMethodInput = { merchantId: 'mer_default', customer, providerCustomerRef, token, idempotencyKey: key };
    return stripe.saveMethod(input);
  };
  const chargeSaved = (saved: { providerCustomerRef: string; providerMethodRef: string }, amount = 1999) =>
    stripe.charge({
      merchantId: 'mer_default',
      reference: `pay_${newKey().slice(0, 12)}`,
      amount,
      currency: 'USD',
      token: saved.providerMethodRef,
      saved,
      customer,
      idempotencyKey: newKey(),
    });
  const declineOf = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected a decline');
      },
      (err: unknown) => err as ProviderDeclineError,
    );

  it('saves pm_card_visa on a new Stripe Customer (our ids in its metadata) and charges it off session', async () => {
    const saved = await save('pm_card_visa');
    expect(saved).toMatchObject({ brand: 'visa', last4: '4242', expMonth: 12 });
    expect(saved.providerCustomerRef).toMatch(/^cus_/);
    expect(saved.providerMethodRef).toMatch(/^pm_/);
    expect(emulator.customers().find((c) => c.id === saved.providerCustomerRef)).toMatchObject({
      email: customer.email,
      metadata: { paybridge_customer: customer.id, merchant_id: 'mer_default' },
    });

    const payment = await chargeSaved(saved);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 1999, currency: 'USD' });
    const intent = emulator.paymentIntents().find((pi) => pi.id === payment.providerRef);
    expect(intent).toMatchObject({ customer: saved.providerCustomerRef, payment_method: saved.providerMethodRef, status: 'succeeded' });
    const create = emulator
      .requestLog()
      .filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents')
      .pop();
    const sent = new URLSearchParams(create?.rawBody ?? '');
    expect([sent.get('off_session'), sent.get('confirm'), sent.get('customer'), sent.get('return_url')]).toEqual([
      'true',
      'true',
      saved.providerCustomerRef,
      null,
    ]);

    // A saved method is charged again and again (an unattached one could be used once).
    await expect(chargeSaved(saved, 2500)).resolves.toMatchObject({ status: 'succeeded', amount: 2500 });
  });

  it('reuses the Stripe Customer it is given: a second method on the same customer', async () => {
    const first = await save('pm_card_visa');
    const second = await save('pm_card_mastercard', first.providerCustomerRef);
    expect(second).toMatchObject({ providerCustomerRef: first.providerCustomerRef, brand: 'mastercard', last4: '4444' });
    expect(emulator.customers().filter((c) => c.id === first.providerCustomerRef)).toHaveLength(1);
  });

  it('a retried save with the same key creates one Customer and attaches one method', async () => {
    const key = newKey();
    const before = emulator.customers().length;
    const first = await save('pm_card_visa', null, key);
    const again = await save('pm_card_visa', null, key);
    expect(again).toEqual(first);
    expect(emulator.customers().length).toBe(before + 1);
  });

  it('pm_card_chargeCustomerFail: saving succeeds, every later charge declines with a decline error', async () => {
    const saved = await save('pm_card_chargeCustomerFail');
    expect(saved).toMatchObject({ brand: 'visa', last4: '0341' });
    for (const amount of [1000, 1500]) {
      const err = await declineOf(chargeSaved(saved, amount));
      expect(err).toBeInstanceOf(ProviderDeclineError);
      expect(err.declineCode).toBe('generic_decline');
      expect(err.providerRef).toMatch(/^pi_/);
    }
  });

  it('a card that needs 3-D Secure declines off session with authentication_required (nobody is there to authenticate)', async () => {
    const saved = await save('pm_card_authenticationRequired');
    const err = await declineOf(chargeSaved(saved));
    expect(err).toBeInstanceOf(ProviderDeclineError);
    expect(err.declineCode).toBe('authentication_required');
  });

  it('a card whose check declines cannot be saved: ProviderDeclineError with Stripe’s decline code', async () => {
    const err = await declineOf(save('pm_card_chargeDeclinedInsufficientFunds'));
    expect(err).toBeInstanceOf(ProviderDeclineError);
    expect(err.declineCode).toBe('insufficient_funds');
  });

  it('detached: the method can no longer be charged, and detaching again is a no-op', async () => {
    const saved = await save('pm_card_visa');
    await stripe.detachMethod(saved);
    expect(
      emulator
        .events()
        .some((e) => e.type === 'payment_method.detached' && (e.data.object as { id: string }).id === saved.providerMethodRef),
    ).toBe(true);
    const err = await declineOf(chargeSaved(saved));
    expect(err).toBeInstanceOf(ProviderDeclineError);
    expect(err.declineCode).toBe('invalid_payment_method');
    await expect(stripe.detachMethod(saved)).resolves.toBeUndefined();
    // Nor can it be saved again.
    await expect(declineOf(save(saved.providerMethodRef, saved.providerCustomerRef))).resolves.toBeInstanceOf(ProviderDeclineError);
  });

  it('a method saved for one customer cannot be charged on another customer', async () => {
    const a = await save('pm_card_visa');
    const b = await save('pm_card_visa');
    const err = await declineOf(chargeSaved({ providerCustomerRef: b.providerCustomerRef, providerMethodRef: a.providerMethodRef }));
    expect(err.declineCode).toBe('invalid_payment_method');
  });
});
