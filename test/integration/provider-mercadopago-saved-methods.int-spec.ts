import { ConfigService } from '@nestjs/config';
import { Env, validateEnv } from '../../src/config/env';
import { MercadoPagoProvider } from '../../src/payments/providers/mercadopago/mercadopago.provider';
import { ProviderDeclineError, SavedMethodRef, SaveMethodInput } from '../../src/payments/providers/payment-provider';
import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { newKey, uniqueEmail } from '../factories/payments';

const ACCESS_TOKEN = 'TEST-8837-saved-cards';

/** Saved cards at Mercado Pago: the adapter with the real mercadopago SDK against the emulator (no mocks). */
describe('Mercado Pago saved cards (MercadoPagoProvider, mercadopago SDK, MercadoPagoEmulator)', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: 'mp-saved', accessToken: ACCESS_TOKEN });
  let mp: MercadoPagoProvider;

  beforeAll(async () => {
    const base = await emulator.start();
    mp = new MercadoPagoProvider(
      new ConfigService<Env, true>({ ...validateEnv({ MERCADOPAGO_ACCESS_TOKEN: ACCESS_TOKEN, MERCADOPAGO_API_BASE: base }) }),
    );
  });
  afterAll(async () => {
    await emulator.idle();
    await emulator.stop();
  });

  /** A card token as MercadoPago.js makes one in the browser, in our `<method>:<token>` form. */
  const cardToken = async (cardholderName: string, number = '5031433215406351'): Promise<string> => {
    const res = await fetch(`${emulator.url}/v1/card_tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        card_number: number,
        expiration_month: '11',
        expiration_year: '2030',
        security_code: '123',
        cardholder: { name: cardholderName, identification: { type: 'CPF', number: '12345678909' } },
      }),
    });
    return `master:${((await res.json()) as { id: string }).id}`;
  };
  const save = async (cardholderName: string, email = uniqueEmail(), providerCustomerRef: string | null = null, key = newKey()) => {
    const input: SaveMethodInput = {
      merchantId: 'mer_default',
      customer: { id: 'cus_ours', email, name: 'Ana Souza' },
      providerCustomerRef,
      token: await cardToken(cardholderName),
      idempotencyKey: key,
    };
    return mp.saveMethod(input);
  };
  const chargeSaved = (saved: SavedMethodRef, amount = 4990, key = newKey()) =>
    mp.charge({
      merchantId: 'mer_default',
      reference: `pay_${key.slice(0, 8)}`,
      amount,
      currency: 'BRL',
      token: saved.providerMethodRef,
      saved,
      customer: { email: 'not-sent@example.com' },
      idempotencyKey: key,
    });
  const declineOf = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected a decline');
      },
      (err: unknown) => err as ProviderDeclineError,
    );

  it('saves the card on a new Mercado Pago customer and charges it with a token made from its card_id, payer type customer', async () => {
    const email = uniqueEmail();
    const saved = await save('APRO', email);
    expect(saved).toMatchObject({ brand: 'master', last4: '6351', expMonth: 11, expYear: 2030 });
    const customer = emulator.customers().find((c) => c.id === saved.providerCustomerRef);
    expect(customer).toMatchObject({ email, first_name: 'Ana', last_name: 'Souza' });
    expect(customer?.cards).toEqual([expect.objectContaining({ id: saved.providerMethodRef })]);

    for (const amount of [4990, 2500]) {
      const key = newKey();
      const payment = await chargeSaved(saved, amount, key);
      expect(payment).toMatchObject({ status: 'succeeded', amount, currency: 'BRL' });
      const atMp = emulator.payments().find((p) => String(p.id) === payment.providerRef);
      expect(atMp?.payer).toMatchObject({ type: 'customer', id: saved.providerCustomerRef, email });
      expect(atMp).toMatchObject({ payment_method_id: 'master', card: { last_four_digits: '6351' } });
      // The token was made from the saved card under a key derived from ours.
      expect(emulator.idempotencyKeysSeen().some((k) => k.key === `${key}:token` && k.path === '/v1/card_tokens')).toBe(true);
    }
  });

  it('a retried charge with the same key replays: one payment at Mercado Pago', async () => {
    const saved = await save('APRO');
    const key = newKey();
    const first = await chargeSaved(saved, 1000, key);
    const again = await chargeSaved(saved, 1000, key);
    expect(again.providerRef).toBe(first.providerRef);
    expect(emulator.payments().filter((p) => p.metadata.attempt_key === key)).toHaveLength(1);
  });

  it('reuses the customer Mercado Pago has for the email (one per email), and the one it is given', async () => {
    const email = uniqueEmail();
    const first = await save('APRO', email);
    const second = await save('APRO', email);
    expect(second.providerCustomerRef).toBe(first.providerCustomerRef);
    const third = await save('APRO', uniqueEmail(), first.providerCustomerRef);
    expect(third.providerCustomerRef).toBe(first.providerCustomerRef);
    expect(emulator.customers().filter((c) => c.email === email)).toHaveLength(1);
  });

  it('two saves racing for a new email end on one customer (the second create is refused with cause 101 and finds it)', async () => {
    const email = uniqueEmail();
    const [a, b] = await Promise.all([save('APRO', email), save('APRO', email)]);
    expect(a.providerCustomerRef).toBe(b.providerCustomerRef);
    expect(emulator.customers().filter((c) => c.email === email)).toHaveLength(1);
  });

  it('a saved card that declines (FUND): saving succeeds, the charge is a decline with Mercado Pago’s status_detail', async () => {
    const saved = await save('FUND');
    const err = await declineOf(chargeSaved(saved));
    expect(err).toBeInstanceOf(ProviderDeclineError);
    expect(err.declineCode).toBe('cc_rejected_insufficient_amount');
    expect(err.providerRef).toBeDefined();
  });

  it('a used or unknown card token cannot be saved: a decline (invalid_payment_method)', async () => {
    const token = await cardToken('APRO');
    const input = (key: string): SaveMethodInput => ({
      merchantId: 'mer_default',
      customer: { id: 'cus_x', email: uniqueEmail() },
      providerCustomerRef: null,
      token,
      idempotencyKey: key,
    });
    await mp.saveMethod(input(newKey()));
    const err = await declineOf(mp.saveMethod(input(newKey())));
    expect(err.declineCode).toBe('invalid_payment_method');
  });

  it('detached (card deleted): the card can no longer be charged, and detaching again is a no-op', async () => {
    const saved = await save('APRO');
    await mp.detachMethod(saved);
    expect(emulator.customers().find((c) => c.id === saved.providerCustomerRef)?.cards).toEqual([]);
    const err = await declineOf(chargeSaved(saved));
    expect(err).toBeInstanceOf(ProviderDeclineError);
    expect(err.declineCode).toBe('invalid_payment_method');
    await expect(mp.detachMethod(saved)).resolves.toBeUndefined();
  });

  it("one customer's card cannot be charged for another customer", async () => {
    const a = await save('APRO');
    const b = await save('APRO');
    const err = await declineOf(chargeSaved({ providerCustomerRef: b.providerCustomerRef, providerMethodRef: a.providerMethodRef }));
    expect(err.declineCode).toBe('invalid_payment_method');
  });
});
