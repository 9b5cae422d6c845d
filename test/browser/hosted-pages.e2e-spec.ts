import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { DEFAULT_MERCHANT_ID } from '../../src/auth/auth.types';
import { CheckoutService } from '../../src/payments/checkout/checkout.service';
import { StripeEmulator } from '../emulators/stripe-emulator';
import { activeGiftCard } from '../factories/gift-cards';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment, uniqueEmail } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';
import { type BrowserGlobals, checkAccessibility, launchChromium, openPage as openPageIn, screenshots } from './browser-kit';

const STRIPE_SECRET = 'whsec_hosted_pages';

jest.setTimeout(180_000);

/**
 * Paybridge's own pages in Chromium against the real app: the hosted checkout (coupon, gift card,
 * simulator, decline and retry, keyboard only), the admin console (search, partial refund, timeline,
 * breaker reset, CSRF) and the portal. Every page: no serious or critical axe violation, no Content
 * Security Policy violation, a screenshot at 1280 and 360 px (test-artifacts/, not committed).
 */
describe('hosted checkout, console and portal in Chromium', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let admin: string;
  let productId: string;
  let shop: Server;
  let shopUrl: string;
  let browser: Browser;
  const stripe = new StripeEmulator({ webhookSecret: STRIPE_SECRET });

  beforeAll(async () => {
    await stripe.start();
    dbUrl = await createTestDatabase();
    // USD has two providers, so the page offers a choice; the simulator (first) is where sessions open.
    api = await startTestApp(dbUrl, {
      STRIPE_SECRET_KEY: 'sk_test_hosted_pages',
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      STRIPE_API_BASE: stripe.url,
      PROVIDER_ROUTING: 'USD=simulator,stripe;*=simulator',
    });
    stripe.webhookUrl = `${api.url}/webhooks/stripe`;
    pk = await api.key('publishable');
    sk = await api.key('secret');
    admin = await api.key('admin');
    productId = (await createProduct(api, admin)).id; // USD 29.99
    const coupon = await api
      .http()
      .post('/admin/coupons')
      .set('X-Api-Key', admin)
      .send({ code: 'BROWSER10', type: 'PERCENTAGE', percentOff: 10 });
    expect(coupon.status).toBe(201);
    shop = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      const url = new URL(req.url ?? '/', 'http://shop');
      if (url.pathname === '/embed') {
        // The merchant's own page: the embed script opens the hosted checkout in a frame.
        res.end(`<!doctype html><html lang="en"><title>Shop checkout</title>
<script src="${url.searchParams.get('api')}/web/embed.js"></script>
<button data-paybridge-checkout="${url.searchParams.get('checkout')}" data-container="#checkout">Pay now</button>
<div id="checkout"></div></html>`);
        return;
      }
      res.end(
        `<!doctype html><html lang="en"><title>Shop</title><h1>Back at the shop: ${req.url === '/success' ? 'paid' : 'not paid'}</h1></html>`,
      );
    });
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (shop) await new Promise((resolve) => shop.close(resolve));
    await api?.close();
    await stripe.stop();
    if (dbUrl) await dropDatabase(dbUrl);
  });

  const openPage = () => openPageIn(browser);

  async function newSession(email = uniqueEmail()) {
    const res = await createCheckout(
      api,
      pk,
      checkoutBody(productId, {
        items: [{ productId, quantity: 1 }],
        customer: { email },
        successUrl: `${shopUrl}/success`,
        cancelUrl: `${shopUrl}/cancel`,
      }),
    );
    expect(res.status).toBe(201);
    return res.body;
  }

  const sessionIdOf = (url: string) => new URL(url).pathname.split('/')[2];

  it('serves each page in the asked language under a policy without unsafe-inline; an unknown session is a 404 page', async () => {
    const session = await newSession();
    const page = await api.http().get(`/pay/${session.id}`).set('Accept-Language', 'pt-BR,pt;q=0.9');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<html lang="pt-BR">');
    const policy = page.headers['content-security-policy'];
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    expect(page.headers['x-frame-options']).toBeUndefined();
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const missing = await api.http().get('/pay/cs_nothere?locale=es');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('<html lang="es">');
    const consolePage = await api.http().get('/console');
    expect(consolePage.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(consolePage.headers['x-frame-options']).toBeUndefined();
    // The built HTML entries are served only by their routes (with their policy), never as files.
    expect((await api.http().get('/web/pay.html')).status).toBe(404);
    const embed = await api.http().get('/web/embed.js');
    expect(embed.status).toBe(200);
    expect(embed.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });

  it('a customer applies a coupon and a gift card, pays on the simulator and lands on the shop; the API agrees', async () => {
    const giftCard = await activeGiftCard(api, pk, 1000);
    const session = await newSession();
    const { page, cspViolations } = await openPage();
    try {
      await page.goto(session.hostedUrl);
      await page.getByRole('heading', { name: 'Checkout' }).waitFor();
      await checkAccessibility(page, 'checkout');
      await screenshots(page, 'checkout');

      await page.getByLabel('Coupon code').fill('WRONG');
      await page.getByRole('button', { name: 'Apply coupon' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /coupon/i })
        .waitFor();

      await page.getByLabel('Coupon code').fill('BROWSER10');
      await page.getByRole('button', { name: 'Apply coupon' }).click();
      await page.waitForURL((url) => url.pathname.startsWith('/pay/') && sessionIdOf(url.href) !== session.id);
      await page.getByText('Discount (BROWSER10)').waitFor();

      const withCoupon = page.url();
      await page.getByLabel('Gift card code').fill(giftCard);
      await page.getByRole('button', { name: 'Apply gift card' }).click();
      await page.waitForURL((url) => url.href !== withCoupon && url.pathname.startsWith('/pay/'));
      const finalId = sessionIdOf(page.url());
      // 29.99 - 10% (3.00) - gift card 10.00 = 16.99
      await expect(page.getByTestId('total').textContent()).resolves.toBe('$16.99');
      await checkAccessibility(page, 'checkout with discounts');

      await page.getByRole('button', { name: /Continue to payment/ }).click();
      await page.waitForURL(/\/simulator\/checkout\//);
      await page.getByRole('button', { name: 'Pay' }).click();
      await page.waitForURL(`${shopUrl}/success`);
      expect(cspViolations).toEqual([]);

      // The session the coupon replaced says so.
      await page.goto(session.hostedUrl);
      await page.getByRole('status').filter({ hasText: 'This checkout was canceled.' }).waitFor();

      const final = (await api.http().get(`/payments/checkout/${finalId}`).set('X-Api-Key', sk)).body;
      expect(final).toMatchObject({ discount: 300, giftCardApplied: 1000, total: 1699, couponCode: 'BROWSER10' });
      const payment = await eventually(async () => {
        const p = await getPayment(api, sk, final.paymentId);
        return p.status === 'succeeded' ? p : undefined;
      });
      expect(payment).toMatchObject({ amount: 2699, provider: 'simulator', checkoutSessionId: finalId });
      const balance = await api.http().get(`/gift-cards/${giftCard}/balance`).set('X-Api-Key', pk);
      expect(balance.body).toMatchObject({ balance: 0, currency: 'USD' });
    } finally {
      await page.close();
    }
  });

  it('a declined card comes back to the page with the message; the customer tries again and pays', async () => {
    const session = await newSession();
    const { page } = await openPage();
    try {
      await page.goto(`${session.hostedUrl}?locale=es`);
      await page.getByRole('heading', { name: 'Pago' }).waitFor();
      // Spanish, amounts formatted for es: "29,99 US$"
      await expect(page.getByTestId('total').textContent()).resolves.toMatch(/29,99/);
      await page.getByRole('button', { name: /Continuar al pago/ }).click();
      await page.waitForURL(/\/simulator\/checkout\//);
      await page.getByRole('button', { name: 'Decline' }).click();
      await page.waitForURL((url) => url.pathname === `/pay/${session.id}` && url.searchParams.has('returned'));
      await page.getByRole('alert').filter({ hasText: 'rechazado (generic_decline)' }).waitFor();
      await screenshots(page, 'checkout-declined');
      await checkAccessibility(page, 'checkout declined');

      await page.getByRole('button', { name: /Continuar al pago/ }).click();
      await page.waitForURL(/\/simulator\/checkout\//);
      await page.getByRole('button', { name: 'Pay' }).click();
      await page.waitForURL(`${shopUrl}/success`);
      await eventually(
        async () => (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', sk)).body.status === 'complete',
      );

      await page.goto(session.hostedUrl);
      await page.getByRole('status').filter({ hasText: 'This order is paid' }).waitFor();
      await screenshots(page, 'checkout-complete');
    } finally {
      await page.close();
    }
  });

  it('an expired session says so, in the customer language, with the way back to the shop', async () => {
    const session = await newSession();
    // What the expiry job does once expiresAt has passed.
    expect(await api.app.get(CheckoutService).expire(DEFAULT_MERCHANT_ID, session.id)).toBe(true);
    const { page } = await openPage();
    try {
      await page.goto(`${session.hostedUrl}?locale=pt-BR`);
      await page.getByRole('status').filter({ hasText: 'Esta compra expirou.' }).waitFor();
      await expect(page.getByRole('link', { name: 'Voltar à loja' }).getAttribute('href')).resolves.toBe(`${shopUrl}/cancel`);
      await expect(page.getByRole('button', { name: /Continuar/ }).count()).resolves.toBe(0);
      await checkAccessibility(page, 'checkout expired');
      await screenshots(page, 'checkout-expired');
    } finally {
      await page.close();
    }
  });

  it('several providers serve the currency: the customer picks Stripe with the arrow keys and reaches its page', async () => {
    const session = await newSession();
    expect(session.provider).toBe('simulator');
    const { page } = await openPage();
    try {
      await page.goto(session.hostedUrl);
      const simulator = page.getByRole('radio', { name: 'Simulator (test card)' });
      await expect(simulator.isChecked()).resolves.toBe(true);
      await simulator.focus();
      await page.keyboard.press('ArrowDown');
      await expect(page.getByRole('radio', { name: 'Card (Stripe)' }).isChecked()).resolves.toBe(true);
      await page.getByRole('button', { name: /Continue to payment/ }).click();
      await page.waitForURL((url) => url.href.startsWith(stripe.url));
      const reopened = (await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', sk)).body;
      expect(reopened).toMatchObject({ provider: 'stripe', status: 'open' });
      expect(reopened.url.startsWith(stripe.url)).toBe(true);
      // The simulator page it replaced is closed: paying there no longer works.
      const stale = await fetch(`${session.url}/pay`, { method: 'POST', redirect: 'manual' });
      expect(stale.status).toBe(409);

      // Back to the simulator, then Stripe again: a new Stripe page (the first was expired when it was left).
      await api.http().post(`/pay/${session.id}/continue`).send({ provider: 'simulator' }).expect(200);
      // Stripe reports the page it left as expired: that is not the session expiring.
      await eventually(async () => {
        const { rows } = await api.db.query<{ status: string }>(
          `SELECT status FROM payment_webhook_events WHERE provider = 'stripe' AND type = 'checkout.session.expired'`,
        );
        return rows.length === 1 && rows[0].status !== 'pending';
      });
      expect((await api.http().get(`/payments/checkout/${session.id}`).set('X-Api-Key', sk)).body.status).toBe('open');
      const again = await api.http().post(`/pay/${session.id}/continue`).send({ provider: 'stripe' }).expect(200);
      expect(again.body.url).not.toBe(reopened.url);
      const statusAtStripe = (url: string) => stripe.checkoutSessions().find((c) => url.endsWith(c.id))?.status;
      expect([statusAtStripe(reopened.url), statusAtStripe(again.body.url)]).toEqual(['expired', 'open']);
    } finally {
      await page.close();
    }
  });

  it('keyboard only: the customer reaches Continue with Tab and pays with Enter', async () => {
    const session = await newSession();
    const { page } = await openPage();
    try {
      await page.goto(session.hostedUrl);
      await page.getByRole('heading', { name: 'Checkout' }).waitFor();
      let focused = '';
      for (let i = 0; i < 15 && !focused.startsWith('Continue to payment'); i++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.textContent ?? '');
      }
      expect(focused).toMatch(/^Continue to payment/);
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/simulator\/checkout\//);
      let onPay = false;
      for (let i = 0; i < 10 && !onPay; i++) {
        await page.keyboard.press('Tab');
        onPay = await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.textContent === 'Pay');
      }
      await page.keyboard.press('Enter');
      await page.waitForURL(`${shopUrl}/success`);
    } finally {
      await page.close();
    }
  });

  it('embedded: the merchant page frames the checkout only from an origin the merchant allowed', async () => {
    const session = await newSession();
    const embedUrl = `${shopUrl}/embed?api=${encodeURIComponent(api.url)}&checkout=${encodeURIComponent(session.hostedUrl)}`;
    const allowed = await api
      .http()
      .put('/admin/settings/allowed-origins')
      .set('X-Api-Key', admin)
      .send({ origins: [shopUrl] });
    expect(allowed.body.origins).toEqual([shopUrl]);
    const { page } = await openPage();
    try {
      await page.goto(embedUrl);
      await page.getByRole('button', { name: 'Pay now' }).click();
      const frame = page.frameLocator('iframe.paybridge-checkout-frame');
      await frame.getByRole('heading', { name: 'Checkout' }).waitFor();
      await frame.getByRole('button', { name: /Continue to payment/ }).waitFor();
    } finally {
      await page.close();
    }

    await api.http().put('/admin/settings/allowed-origins').set('X-Api-Key', admin).send({ origins: [] }).expect(200);
    const blocked = await openPage();
    try {
      const refused = new Promise<string>((resolve) =>
        blocked.page.on('console', (m) => {
          if (/frame-ancestors/.test(m.text())) resolve(m.text());
        }),
      );
      await blocked.page.goto(embedUrl);
      await blocked.page.getByRole('button', { name: 'Pay now' }).click();
      // Chromium names the framed page and the directive that refused it (no longer the shop's origin).
      await expect(refused).resolves.toContain(
        `Framing '${api.url}/' violates the following Content Security Policy directive: "frame-ancestors 'self'"`,
      );
    } finally {
      await blocked.page.close();
    }
  });

  it('console: sign in, find the payment by email, refund part of it, see the timeline; reset a breaker; CSRF refused', async () => {
    const email = uniqueEmail();
    const session = await newSession(email);
    const paid = await fetch(`${session.url}/pay`, { method: 'POST', redirect: 'manual' });
    expect(paid.status).toBe(303);
    await eventually(async () => (await getPayment(api, sk, session.paymentId)).status === 'succeeded');

    const { page, cspViolations } = await openPage();
    try {
      await page.goto(`${api.url}/console`);
      await page.getByLabel('Admin API key').waitFor();
      await checkAccessibility(page, 'console sign-in');
      await screenshots(page, 'console-sign-in');
      await page.getByLabel('Admin API key').fill(admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(page.url()).toBe(`${api.url}/console`); // the key is never in the URL
      expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.cookie)).toBe(''); // HttpOnly: scripts cannot read the session

      await page.getByLabel('Customer email').fill(email);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('button', { name: `Open ${session.paymentId}` }).click();
      await page.getByLabel('Refund amount (minor units; empty: the rest)').fill('500');
      await page.getByRole('button', { name: 'Refund' }).click();
      await page.getByRole('list', { name: 'Timeline' }).getByText('refund', { exact: true }).first().waitFor();
      await eventually(async () => (await getPayment(api, sk, session.paymentId)).amountRefunded === 500);
      await checkAccessibility(page, 'console transactions');
      await screenshots(page, 'console-transactions');

      await page.getByRole('button', { name: 'Circuit breakers' }).click();
      await page.getByRole('button', { name: 'Reset simulator' }).click();
      await page.getByRole('status').filter({ hasText: 'Reset simulator: done.' }).waitFor();
      await checkAccessibility(page, 'console breakers');
      await screenshots(page, 'console-breakers');

      // Every other section: it loads from the API (no error shown), passes axe, fits 360 px.
      for (const [tab, heading] of [
        ['Failed payments', 'Failed payments'],
        ['Dead letters', 'Dead letters'],
        ['Reconciliation', 'Reconciliation runs'],
        ['Webhook endpoints', 'Webhook endpoints'],
      ]) {
        await page.getByRole('button', { name: tab, exact: true }).click();
        await page.getByRole('heading', { name: heading, exact: true }).waitFor();
        await expect(page.locator('.alert').count()).resolves.toBe(0);
        await checkAccessibility(page, `console ${tab}`);
        await screenshots(page, `console-${tab.toLowerCase().replace(/ /g, '-')}`);
      }

      // The session cookie alone does not change anything: a state-changing request needs the CSRF token.
      const forged = await page.evaluate(async () => (await fetch('/admin/circuit-breaker/reset', { method: 'POST' })).status);
      expect(forged).toBe(403);
      expect(cspViolations).toEqual([]);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin API key').waitFor();
    } finally {
      await page.close();
    }
  });

  it('portal: the customer sees their payments with receipts and looks up a gift card', async () => {
    const email = uniqueEmail();
    const session = await newSession(email);
    await fetch(`${session.url}/pay`, { method: 'POST', redirect: 'manual' });
    await eventually(async () => (await getPayment(api, sk, session.paymentId)).status === 'succeeded');
    const giftCard = await activeGiftCard(api, pk, 2500);
    const portal = await api
      .http()
      .post('/portal/sessions')
      .set('X-Api-Key', sk)
      .send({ customerId: session.customer.id, returnUrl: `${shopUrl}/account` });
    expect(portal.status).toBe(201);

    const { page, cspViolations } = await openPage();
    try {
      await page.goto(`${portal.body.url}?locale=pt-BR`);
      await page.getByRole('heading', { name: 'Sua conta' }).waitFor();
      await page
        .getByText(/US\$\s?29,99/)
        .first()
        .waitFor();
      await page.getByLabel('Código do cartão-presente').fill(giftCard);
      await page.getByRole('button', { name: 'Consultar saldo' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: /25,00 \(ativo\)/ })
        .waitFor();
      await checkAccessibility(page, 'portal');
      await screenshots(page, 'portal');
      expect(cspViolations).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
