import { existsSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Browser, chromium, Page } from 'playwright-core';
import { checkoutBody, createCheckout, createProduct, eventually, getPayment } from '../factories/payments';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

// Debian's chromium (.ci/run installs it). Missing, the test fails: a skipped browser test proves nothing.
const CHROMIUM = '/usr/bin/chromium';

/**
 * A customer in a real browser on the simulator's hosted page: Pay (or Decline) must bring them back to
 * the shop, on another origin. Browsers enforce the page's Content Security Policy `form-action` on the
 * redirect that answers the form too, so a policy of `form-action 'self'` strands the customer there.
 */
describe('simulator hosted checkout in Chromium (real app on a port, shop on another origin)', () => {
  let dbUrl: string;
  let api: TestApp;
  let pk: string;
  let sk: string;
  let productId: string;
  let shop: Server;
  let shopUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    pk = await api.key('publishable');
    sk = await api.key('secret');
    productId = (await createProduct(api, await api.key('admin'))).id;
    shop = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Shop</title><h1>Back at the shop: ${req.url === '/success' ? 'paid' : 'not paid'}</h1>`);
    });
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (shop) await new Promise((resolve) => shop.close(resolve));
    await api?.close();
    if (dbUrl) await dropDatabase(dbUrl);
  });

  /** Opens a new session's hosted page, presses `button` and waits for the browser to reach `expectedUrl`. */
  async function pressOnHostedPage(button: 'Pay' | 'Decline', expectedUrl: string) {
    const res = await createCheckout(
      api,
      pk,
      checkoutBody(productId, { successUrl: `${shopUrl}/success`, cancelUrl: `${shopUrl}/cancel` }),
    );
    expect(res.status).toBe(201);
    const session = res.body;
    const page: Page = await browser.newPage();
    // Chromium reports a blocked form submission on the console: shown if the test fails.
    const consoleLines: string[] = [];
    page.on('console', (message) => consoleLines.push(message.text()));
    try {
      await page.goto(session.url);
      await page.getByRole('button', { name: button }).click();
      await page.waitForURL(expectedUrl, { timeout: 15_000 }).catch((err: Error) => {
        throw new Error(`${err.message}\nthe browser is at ${page.url()}; its console:\n${consoleLines.join('\n')}`);
      });
      const heading = await page.locator('h1').textContent();
      return { session, heading };
    } finally {
      await page.close();
    }
  }

  it('Pay takes the customer back to successUrl on the shop, and the payment succeeds', async () => {
    const { session, heading } = await pressOnHostedPage('Pay', `${shopUrl}/success`);
    expect(heading).toBe('Back at the shop: paid');
    const payment = await eventually(async () => {
      const p = await getPayment(api, sk, session.paymentId);
      return p.status === 'succeeded' ? p : undefined;
    });
    expect(payment).toMatchObject({ amount: session.total, currency: 'USD', provider: 'simulator', checkoutSessionId: session.id });
  });

  it('Decline takes the customer back to cancelUrl on the shop, and the payment fails', async () => {
    const { session, heading } = await pressOnHostedPage('Decline', `${shopUrl}/cancel`);
    expect(heading).toBe('Back at the shop: not paid');
    const payment = await eventually(async () => {
      const p = await getPayment(api, sk, session.paymentId);
      return p.status === 'failed' ? p : undefined;
    });
    expect(payment).toMatchObject({ declineCode: 'generic_decline' });
  });
});
