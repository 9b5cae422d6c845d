import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { hostedPagePolicy } from '../common/security-headers';
import type { Locale } from './locale';

/** Where `npm run build` puts the hosted pages (web/ built by Vite): dist/web, from src/ or dist/ alike. */
export const WEB_DIST_DIR = resolve(__dirname, '../../dist/web');

export type PageName = 'pay' | 'console' | 'portal';

const cache = new Map<PageName, string>();

/** The built HTML of a page (read once). Missing: the web build did not run, a deployment error. */
function template(page: PageName): string {
  const cached = cache.get(page);
  if (cached) return cached;
  const file = join(WEB_DIST_DIR, `${page}.html`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build (it builds web/ too)`);
  const html = readFileSync(file, 'utf8');
  cache.set(page, html);
  return html;
}

/**
 * Sends a hosted page: its HTML in the customer's language, under the hosted pages' Content Security
 * Policy (no inline script or style; framed only by `frameAncestors`). Helmet's X-Frame-Options would
 * forbid every other origin's frame whatever the policy says, so it is removed here: frame-ancestors rules.
 */
export function sendPage(reply: FastifyReply, page: PageName, locale: Locale, frameAncestors: string[] = [], status = 200): void {
  const html = template(page).replace('<html lang="en">', `<html lang="${locale}">`);
  reply.raw.removeHeader('X-Frame-Options');
  void reply
    .status(status)
    .header('Content-Security-Policy', hostedPagePolicy(frameAncestors))
    .header('Cache-Control', 'no-store')
    .header('Referrer-Policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** The built scripts, styles and the embed script under /web/ (content-hashed names: cached for long). */
export async function registerWebAssets(app: NestFastifyApplication): Promise<void> {
  if (!existsSync(WEB_DIST_DIR)) return; // API-only runs (integration tests with PAYBRIDGE_TEST_SKIP_BUILD)
  await app.register(fastifyStatic, {
    root: WEB_DIST_DIR,
    prefix: '/web/',
    index: false,
    // The HTML entries are served by the page controllers (with their policy), never as files.
    allowedPath: (path) => !path.endsWith('.html'),
    cacheControl: false,
    setHeaders: (reply, path) => {
      void reply.header('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
      // embed.js is loaded by merchants' pages on other origins.
      if (path.endsWith('embed.js')) void reply.header('Cross-Origin-Resource-Policy', 'cross-origin');
    },
  });
}
