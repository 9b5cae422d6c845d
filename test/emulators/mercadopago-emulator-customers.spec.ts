import { CardToken, Customer, CustomerCard, MercadoPagoConfig, MPBadRequestError, MPNotFoundError, Payment } from 'mercadopago';
import { MercadoPagoEmulator, pointMercadoPagoSdkAt } from './mercadopago-emulator';

/** Customers and saved cards in the Mercado Pago emulator, through the mercadopago SDK: as strict as Mercado Pago. */
describe('MercadoPagoEmulator customers and customer cards (mercadopago SDK)', () => {
  const emulator = new MercadoPagoEmulator({ webhookSecret: 'mp-cards' });
  let restoreSdk: () => void;
  const config = (idempotencyKey?: string) =>
    new MercadoPagoConfig({ accessToken: 'TEST-cards', options: { maxRetries: 0, ...(idempotencyKey ? { idempotencyKey } : {}) } });

  beforeAll(async () => {
    restoreSdk = pointMercadoPagoSdkAt(await emulator.start());
  });
  afterAll(async () => {
    await emulator.idle();
    await emulator.stop();
    restoreSdk();
  });

  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected Mercado Pago to refuse');
      },
      (err: unknown) => err as MPBadRequestError,
    );
  const token = async (name = 'APRO', number = '4235647728025682') =>
    String(
      (
        await new CardToken(config()).create({
          body: {
            card_number: number,
            expiration_month: '11',
            expiration_year: '2030',
            security_code: '123',
            cardholder: { name },
          } as never,
        })
      ).id,
    );
  let n = 0;
  const newCustomer = async () => new Customer(config()).create({ body: { email: `cards-${++n}-${Date.now()}@example.com` } });

  it('one customer per email: a second is refused (cause 101), and search finds the first', async () => {
    const customer = await newCustomer();
    const err = await refusal(new Customer(config()).create({ body: { email: String(customer.email) } }));
    expect(err.causes.map((c) => String((c as { code?: unknown }).code))).toContain('101');
    const found = await new Customer(config()).search({ options: { email: String(customer.email) } });
    expect(found.results?.map((c) => c.id)).toEqual([customer.id]);
  });

  it('saves a card from an unused token (brand by BIN), lists and deletes it; a used token is refused', async () => {
    const customer = await newCustomer();
    const tok = await token();
    const card = await new CustomerCard(config()).create({ customerId: String(customer.id), body: { token: tok } });
    expect(card).toMatchObject({
      customer_id: customer.id,
      last_four_digits: '5682',
      payment_method: { id: 'visa' },
      expiration_year: 2030,
    });
    expect((await new CustomerCard(config()).list({ customerId: String(customer.id) })).map((c) => c.id)).toEqual([card.id]);
    await refusal(new CustomerCard(config()).create({ customerId: String(customer.id), body: { token: tok } }));
    await new CustomerCard(config()).remove({ customerId: String(customer.id), cardId: String(card.id) });
    await expect(new CustomerCard(config()).get({ customerId: String(customer.id), cardId: String(card.id) })).rejects.toBeInstanceOf(
      MPNotFoundError,
    );
  });

  it("a saved card's token pays only for its customer; a deleted card makes no token", async () => {
    const owner = await newCustomer();
    const stranger = await newCustomer();
    const card = await new CustomerCard(config()).create({ customerId: String(owner.id), body: { token: await token('FUND') } });
    const pay = (payer: Record<string, unknown>, tokenId: string, key: string) =>
      new Payment(config(key)).create({
        body: { transaction_amount: 10, token: tokenId, payment_method_id: 'visa', installments: 1, payer } as never,
      });
    const forCard = async () =>
      String((await new CardToken(config()).create({ body: { card_id: String(card.id), customer_id: String(owner.id) } })).id);

    await refusal(pay({ email: 'someone@example.com' }, await forCard(), 'k1'));
    await refusal(pay({ type: 'customer', id: stranger.id }, await forCard(), 'k2'));
    const rejected = await pay({ type: 'customer', id: owner.id }, await forCard(), 'k3');
    // The saved card keeps its cardholder, so the test card's outcome (FUND) holds for every later charge.
    expect(rejected).toMatchObject({
      status: 'rejected',
      status_detail: 'cc_rejected_insufficient_amount',
      payer: { id: owner.id, email: owner.email },
    });
    await refusal(new CardToken(config()).create({ body: { card_id: String(card.id), customer_id: String(stranger.id) } }));
    await new CustomerCard(config()).remove({ customerId: String(owner.id), cardId: String(card.id) });
    await expect(new CardToken(config()).create({ body: { card_id: String(card.id) } })).rejects.toBeInstanceOf(MPNotFoundError);
  });
});
