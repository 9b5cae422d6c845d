import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The hosted pages (checkout, portal, console): three HTML entries built into dist/web, whose assets the
// API serves under /web/ (src/hosted/web-pages.ts). The HTML itself is served by the API's controllers,
// with a Content Security Policy that allows only these same-origin files (no inline script or style).
const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/web/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: resolve(here, '../dist/web'),
    emptyOutDir: true,
    // Inline assets would need 'data:' or inline allowances in the policy.
    assetsInlineLimit: 0,
    rollupOptions: {
      input: {
        pay: resolve(here, 'pay.html'),
        console: resolve(here, 'console.html'),
        portal: resolve(here, 'portal.html'),
      },
    },
  },
});
