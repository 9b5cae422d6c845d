import { resolve } from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The hosted pages (checkout, portal, console): three HTML entries built into dist/web, whose assets the
// API serves under /web/ (src/hosted/web-assets.ts). The HTML itself is served by the API's controllers,
// with a Content Security Policy that allows only these same-origin files (no inline script or style).
export default defineConfig({
  root: __dirname,
  base: '/web/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: resolve(__dirname, '../dist/web'),
    emptyOutDir: true,
    // Inline assets would need 'data:' or inline allowances in the policy.
    assetsInlineLimit: 0,
    rollupOptions: {
      input: {
        pay: resolve(__dirname, 'pay.html'),
        console: resolve(__dirname, 'console.html'),
        portal: resolve(__dirname, 'portal.html'),
      },
    },
  },
});
