/*
 * Paybridge embedded checkout. On the merchant's page:
 *   <script src="https://PAYBRIDGE_HOST/web/embed.js" defer></script>
 *   <button data-paybridge-checkout="https://PAYBRIDGE_HOST/pay/cs_…">Pay</button>
 * or from a script: Paybridge.openCheckout(hostedUrl, { mode: 'iframe' | 'redirect', container }).
 * The iframe shows only when the merchant's origin is allowed (PUT /admin/settings/allowed-origins):
 * otherwise the browser refuses the frame (frame-ancestors), so 'redirect' is the fallback.
 */
(function () {
  'use strict';
  function openCheckout(hostedUrl, options) {
    var opts = options || {};
    if (opts.mode === 'redirect' || !window.HTMLIFrameElement) {
      window.location.assign(hostedUrl);
      return null;
    }
    var frame = document.createElement('iframe');
    frame.src = hostedUrl;
    frame.title = opts.title || 'Checkout';
    frame.setAttribute('allow', 'payment');
    frame.className = 'paybridge-checkout-frame';
    frame.width = '100%';
    frame.height = String(opts.height || 720);
    frame.style.border = '0';
    var container = opts.container ? document.querySelector(opts.container) : null;
    if (container) container.replaceChildren(frame);
    else document.body.appendChild(frame);
    frame.focus();
    return frame;
  }
  window.Paybridge = { openCheckout: openCheckout };
  document.addEventListener('click', function (event) {
    var target = event.target instanceof Element ? event.target.closest('[data-paybridge-checkout]') : null;
    if (!target) return;
    event.preventDefault();
    openCheckout(target.getAttribute('data-paybridge-checkout'), {
      mode: target.getAttribute('data-mode') || 'iframe',
      container: target.getAttribute('data-container'),
    });
  });
})();
