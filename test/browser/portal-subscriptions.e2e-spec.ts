import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { activeGiftCard } from '../factories/gift-cards';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment, newKey, uniqueEmail } from '../factories/payments';
import { getSubscription, saveMethod, subscribe, type SubscriptionBody } from '../factories/subscriptions';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { checkAccessibility, launchChromium, openPage, screenshots, startShop } from './browser-kit';

jest.setTimeout(180_000);

/**
 * Subscriptions in Chromium against the real app: bought through Paybridge's checkout page (a product and
 * a monthly plan, coupon, gift card, the simulator's page), then managed in the customer portal (cancel at
 * period end and resume, change plan, add and remove a saved card). The API is asked what each click did.
 */
describe('subscriptions on the checkout page and in the portal (Chromium)', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let shop: Server;
  let shopUrl: string;
  let browser: Browser;
  let basic: { id: string };
  let pro: { id: string };
  let gadget: { id: string };

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    const plan = (name: string, amount: number) =>
      createProduct(api, admin, { name, billingType: 'SUBSCRIPTION', interval: 'month', prices: [{ currency: 'USD', amount }] });
    basic = await plan('Basic plan', 1000);
    pro = await plan('Pro plan', 3000);
    gadget = await createProduct(api, admin, { name: 'Gadget', prices: [{ currency: 'USD', amount: 2000 }] });
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', admin)
      .send({ code: 'SUBS10', type: 'PERCENTAGE', percentOff: 10 });
    expect(coupon.status).toBe(201);
    ({ server: shop, url: shopUrl } = await startShop());
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (shop) await new Promise((resolve) => shop.close(resolve));
    await api?.close();
    if (dbUrl) await dropDatabase(dbUrl);
  });

  const subscriptionsOf = async (email: string): Promise<SubscriptionBody[]> =>
    (await api.http().get('/subscriptions').query({ customerEmail: email }).set('X-Api-Key', sk)).body.data;

  it('a product and a monthly plan with a coupon and a gift card through /pay: paid on the simulator, the subscription active', async () => {
    const giftCard = await activeGiftCard(api, pk, 1000);
    const email = uniqueEmail();
    const created = await createCheckout(
      api,
      sk,
      checkoutBody(basic.id, {
        items: [
          { productId: gadget.id, quantity: 1 },
          { productId: basic.id, quantity: 1 },
        ],
        customer: { email },
        successUrl: `${shopUrl}/success`,
        cancelUrl: `${shopUrl}/cancel`,
      }),
    );
    expect(created.status).toBe(201);
    const { page, cspViolations } = await openPage(browser);
    try {
      await page.goto(created.body.hostedUrl);
      await page.getByRole('heading', { name: 'Checkout' }).waitFor();
      // Both lines; the plan says how it renews.
      await page.getByRole('cell', { name: /^Gadget/ }).waitFor();
      await page.getByText('Subscription: renews every month at $10.00 until you cancel.').waitFor();

      await page.getByLabel('Coupon code').fill('SUBS10');
      await page.getByRole('button', { name: 'Apply coupon' }).click();
      await page.getByText('Discount (SUBS10)').waitFor();
      const withCoupon = page.url();
      await page.getByLabel('Gift card code').fill(giftCard);
      await page.getByRole('button', { name: 'Apply gift card' }).click();
      await page.waitForURL((url) => url.href !== withCoupon && url.pathname.startsWith('/pay/'));
      // 30.00 - 10% (3.00) - gift card 10.00 = 17.00
      await expect(page.getByTestId('total').textContent()).resolves.toBe('$17.00');
      await page.getByText('Subscription: renews every month at $10.00 until you cancel.').waitFor();
      await checkAccessibility(page, 'checkout with a subscription');
      await screenshots(page, 'checkout-subscription');
      const finalId = new URL(page.url()).pathname.split('/')[2];

      await page.getByRole('button', { name: /Continue to payment/ }).click();
      await page.waitForURL(/\/simulator\/checkout\//);
      await page.getByRole('button', { name: 'Pay' }).click();
      await page.waitForURL(`${shopUrl}/success`);
      expect(cspViolations).toEqual([]);

      const session = (await api.http().get(`/payments/checkout/${finalId}`).set('X-Api-Key', sk)).body;
      expect(session).toMatchObject({ discount: 300, giftCardApplied: 1000, total: 1700, couponCode: 'SUBS10' });
      const payment = await eventually(async () => {
        const p = await getPayment(api, sk, session.paymentId);
        return p.status === 'succeeded' ? p : undefined;
      });
      expect(payment).toMatchObject({ amount: 2700, provider: 'simulator', checkoutSessionId: finalId });
      // The sessions the coupon and the gift card replaced leave their subscriptions incomplete (never
      // renewed, as an expired session's); the one paid is active.
      const sub = await eventually(async () => {
        const subs = await subscriptionsOf(email);
        const active = subs.filter((s) => s.status === 'active');
        return active.length === 1 && subs.every((s) => s.status === 'active' || s.status === 'incomplete') ? active[0] : undefined;
      });
      expect(sub).toMatchObject({ productId: basic.id, amount: 1000, interval: 'month', provider: 'simulator', cancelAtPeriodEnd: false });
      expect(sub.paymentMethodId).toMatch(/^pm_/);
      const balance = await api.http().get(`/gift-cards/${giftCard}/balance`).set('X-Api-Key', pk);
      expect(balance.body).toMatchObject({ balance: 0, currency: 'USD' });

      // The customer's portal shows the plan bought (not the replaced sessions' unpaid ones) and the card the page saved.
      const portal = await api
        .http()
        .post('/portal/sessions')
        .set('X-Api-Key', sk)
        .send({ customerId: sub.customer.id, returnUrl: `${shopUrl}/a` });
      await page.goto(portal.body.url);
      await page.locator('[data-subscription]').first().waitFor();
      expect(
        await page.locator('[data-subscription]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-subscription'))),
      ).toEqual([sub.id]);
      await page.getByText('Visa ending in 4242').waitFor();
    } finally {
      await page.close();
    }
  });

  it('portal: cancel at period end and resume; change plan; add a card and remove it', async () => {
    const bought = await subscribe(api, sk, basic.id);
    const sub = bought.subscriptions[0];
    const portal = await api
      .http()
      .post('/portal/sessions')
      .set('X-Api-Key', sk)
      .send({ customerId: sub.customer.id, returnUrl: `${shopUrl}/account` });
    expect(portal.status).toBe(201);
    const { page, cspViolations } = await openPage(browser);
    const card = page.locator(`[data-subscription="${sub.id}"]`);
    try {
      await page.goto(portal.body.url);
      await card.getByRole('heading', { name: 'Basic plan' }).waitFor();
      await card.getByText('$10.00 every month · active').waitFor();
      await checkAccessibility(page, 'portal subscriptions');
      await screenshots(page, 'portal-subscriptions');

      await card.getByRole('button', { name: 'Cancel at period end' }).click();
      await card.getByRole('status').filter({ hasText: 'Canceled: your subscription ends on' }).waitFor();
      expect(await getSubscription(api, sk, sub.id)).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });
      await card.getByRole('button', { name: 'Resume subscription' }).waitFor();
      await checkAccessibility(page, 'portal subscription canceled at period end');

      await card.getByRole('button', { name: 'Resume subscription' }).click();
      await card.getByRole('status').filter({ hasText: 'Resumed: your subscription renews on' }).waitFor();
      expect(await getSubscription(api, sk, sub.id)).toMatchObject({ status: 'active', cancelAtPeriodEnd: false });

      // An upgrade: charged now (prorated) on the saved card, the new plan at once.
      await card.getByLabel('Change to').selectOption(pro.id);
      await card.getByRole('button', { name: 'Change plan' }).click();
      await card.getByRole('status').filter({ hasText: 'Done: you are now on Pro plan.' }).waitFor();
      expect(await getSubscription(api, sk, sub.id)).toMatchObject({ productId: pro.id, amount: 3000 });
      await card.getByRole('heading', { name: 'Pro plan' }).waitFor();
      // The plans offered now are the others: Basic back.
      await expect(card.getByLabel('Change to').inputValue()).resolves.toBe(basic.id);

      // Saved methods: the subscription's card is listed; a new one is saved through the simulator's token, then removed.
      const methods = page.locator('section', { has: page.getByRole('heading', { name: 'Saved payment methods' }) });
      await methods.getByText('pays a subscription').waitFor();
      await methods.getByLabel('Test card (simulator)').selectOption('tok_mastercard');
      await methods.getByRole('button', { name: 'Save card' }).click();
      await methods.getByRole('status').filter({ hasText: 'Mastercard ending in 4444 saved.' }).waitFor();
      const listed = async () =>
        (await api.http().get(`/customers/${sub.customer.id}/payment-methods`).set('X-Api-Key', sk)).body.data as Array<{
          id: string;
          brand: string;
        }>;
      expect((await listed()).map((pm) => pm.brand).sort()).toEqual(['mastercard', 'visa']);
      await checkAccessibility(page, 'portal payment methods');
      await screenshots(page, 'portal-payment-methods');

      await methods.getByRole('button', { name: 'Remove Mastercard ending in 4444' }).click();
      await methods.getByRole('status').filter({ hasText: 'Payment method removed.' }).waitFor();
      await methods.getByRole('button', { name: 'Remove Mastercard ending in 4444' }).waitFor({ state: 'detached' });
      expect((await listed()).map((pm) => pm.brand)).toEqual(['visa']);
      expect(cspViolations).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('portal in Spanish: a refused change shows the API answer; another customer cannot be reached', async () => {
    const mine = (await subscribe(api, sk, basic.id)).subscriptions[0];
    const other = await saveMethod(api, sk, (await subscribe(api, sk, basic.id)).subscriptions[0].customer.id, 'tok_mastercard');
    const portal = await api
      .http()
      .post('/portal/sessions')
      .set('X-Api-Key', sk)
      .send({ customerId: mine.customer.id, returnUrl: `${shopUrl}/a` });
    const token = new URL(portal.body.url).pathname.split('/')[2];
    // The page offers only what it may do; a request for another customer's method is not found.
    const res = await api.http().delete(`/portal/${token}/payment-methods/${other.id}`);
    expect(res.status).toBe(404);
    // Pro is archived after the page loaded: the API refuses the change and the page says why.
    const { page } = await openPage(browser);
    try {
      await page.goto(`${portal.body.url}?locale=es`);
      const card = page.locator(`[data-subscription="${mine.id}"]`);
      await card.getByText('10,00 US$ al mes · activa').waitFor();
      await api.http().delete(`/admin/products/${pro.id}`).set('X-Api-Key', admin).set('Idempotency-Key', newKey());
      await card.getByLabel('Cambiar a').selectOption(pro.id);
      await card.getByRole('button', { name: 'Cambiar de plan' }).click();
      await card
        .getByRole('alert')
        .filter({ hasText: /not available/ })
        .waitFor();
      expect(await getSubscription(api, sk, mine.id)).toMatchObject({ productId: basic.id, amount: 1000 });
      await checkAccessibility(page, 'portal (es) refused change');
      await screenshots(page, 'portal-subscriptions-es');
    } finally {
      await page.close();
    }
  });
});
