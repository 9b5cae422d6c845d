import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { ROOT } from '../helpers/process';

/** Debian's chromium (.ci/run installs it). Missing, the test fails: a skipped browser test proves nothing. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of every page, kept as test artifacts (git-ignored). */
export const SCREENSHOTS = join(ROOT, 'test-artifacts', 'screenshots');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** What the page functions use of the browser's globals (the tests compile without the DOM lib). */
export interface BrowserGlobals {
  document: { documentElement: { scrollWidth: number }; activeElement: { textContent: string | null } | null; cookie: string };
  axe: {
    run: (
      options: unknown,
    ) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown }> }> }>;
  };
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
}

/** A page that records Content Security Policy violations reported on its console. */
export async function openPage(browser: Browser): Promise<{ page: Page; cspViolations: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return { page, cspViolations };
}

/** axe-core (evaluated over DevTools, which the page's policy does not govern): no serious or critical violation. */
export async function checkAccessibility(page: Page, name: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as BrowserGlobals).axe;
    const result = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  });
  expect({ page: name, violations }).toEqual({ page: name, violations: [] });
}

/** Full-page screenshots at 1280 and 360 px; at 360 px nothing may stick out sideways. */
export async function screenshots(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 780 });
  expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(
    360,
  );
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-360.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** The merchant's shop on another origin: where the success and cancel URLs lead. */
export async function startShop(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><html lang="en"><title>Shop</title><h1>Back at the shop: ${req.url === '/success' ? 'paid' : 'not paid'}</h1></html>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
