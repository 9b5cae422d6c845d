import { ApiKeysService } from '../../src/auth/api-keys.service';
import { MercadoPagoEmulator } from '../emulators/mercadopago-emulator';
import { activeGiftCard } from '../factories/gift-cards';
import { checkoutBody, createCheckout, createProduct, newKey } from '../factories/payments';
import { createPlan, newMerchant } from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

/**
 * The hosted checkout page with a subscription in the cart: the session saves the card for the renewals,
 * so the page goes on (and is replaced) only where the provider's page saves it (the simulator; Mercado
 * Pago's Checkout Pro cannot), and a gift card may not pay all of it.
 */
describe('hosted checkout page: a cart with a subscription', () => {
  const ACCESS_TOKEN = 'TEST-8837-445566-emulator';
  const mercadoPago = new MercadoPagoEmulator({ webhookSecret: 'mp-webhook-secret-hosted-page-subs', accessToken: ACCESS_TOKEN });
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    const base = await mercadoPago.start();
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl, {
      MERCADOPAGO_ACCESS_TOKEN: ACCESS_TOKEN,
      MERCADOPAGO_WEBHOOK_SECRET: 'mp-webhook-secret-hosted-page-subs',
      MERCADOPAGO_API_BASE: base,
      PROVIDER_ROUTING: 'USD=simulator,mercadopago;*=simulator',
    });
  });
  afterAll(async () => {
    await mercadoPago.idle();
    await api?.close();
    await mercadoPago.stop();
    await dropDatabase(dbUrl);
  });

  it('shows how the plan renews, offers only the provider that saves, keeps saving when a coupon replaces it', async () => {
    const m = await newMerchant(api);
    const pk = (await api.app.get(ApiKeysService).create(m.id, 'publishable')).secret;
    const plan = await createPlan(api, m.admin, 1500);
    const gadget = await createProduct(api, m.admin, { prices: [{ currency: 'USD', amount: 1000 }] });
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', m.admin)
      .send({ code: 'PAGE10', type: 'PERCENTAGE', percentOff: 10 });
    expect(coupon.status).toBe(201);
    const items = [
      { productId: gadget.id, quantity: 1 },
      { productId: plan.id, quantity: 1 },
    ];
    const oneTime = await createCheckout(api, m.sk, checkoutBody(gadget.id));
    expect((await api.http().get(`/pay/${oneTime.body.id}/session`)).body.providers).toEqual(['simulator', 'mercadopago']);

    const created = await createCheckout(api, m.sk, checkoutBody(plan.id, { items }));
    expect(created.status).toBe(201);
    const view = (await api.http().get(`/pay/${created.body.id}/session`).expect(200)).body;
    expect(view.lines.map((l: { interval: string | null }) => l.interval)).toEqual([null, 'month']);
    expect(view.providers).toEqual(['simulator']);
    const refused = await api.http().post(`/pay/${created.body.id}/continue`).send({ provider: 'mercadopago' }).expect(422);
    expect(refused.body.error.code).toBe('provider_not_available');

    // A gift card that would pay it all: refused before anything changes (the renewals need a card).
    const giftCard = await activeGiftCard(api, pk, 5000);
    const all = await api
      .http()
      .post(`/pay/${created.body.id}/discounts`)
      .set('Idempotency-Key', newKey())
      .send({ giftCardCode: giftCard });
    expect(all.status).toBe(422);
    expect(all.body.error.code).toBe('gift_card_covers_total');
    expect((await api.http().get(`/pay/${created.body.id}/session`)).body.status).toBe('open');

    const applied = await api
      .http()
      .post(`/pay/${created.body.id}/discounts`)
      .set('Idempotency-Key', newKey())
      .send({ couponCode: 'PAGE10' });
    expect(applied.status).toBe(201);
    const replacement = (await api.http().get(`/payments/checkout/${applied.body.id}`).set('X-Api-Key', m.sk)).body;
    expect(replacement).toMatchObject({ savePaymentMethod: true, provider: 'simulator', discount: 250, total: 2250 });
    const continued = await api.http().post(`/pay/${applied.body.id}/continue`).send({ provider: 'simulator' }).expect(200);
    expect(continued.body.url).toContain('/simulator/checkout/');
  });
});
