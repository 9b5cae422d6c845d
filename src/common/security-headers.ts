import helmet from 'helmet';

/**
 * The API's Content Security Policy, written out in full (helmet's defaults with our changes) so that a
 * page can be served with the same policy and one directive widened (`contentSecurityPolicy`).
 */
const DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'font-src': ["'self'", 'https:', 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:', 'https:'],
  'object-src': ["'none'"],
  'script-src': ["'self'", "'unsafe-inline'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'upgrade-insecure-requests': [],
};

/** Helmet's middleware over every response. Built once: building it per request was measurable at load. */
export function securityHeaders() {
  return helmet({ contentSecurityPolicy: { useDefaults: false, directives: DIRECTIVES } });
}

/**
 * The policy of a page whose forms send the customer onward: browsers check `form-action` against the
 * redirect that answers the form as well, so the origins of its destinations (a shop's successUrl and
 * cancelUrl) are added. A URL that is not http(s) adds nothing.
 */
export function contentSecurityPolicy(formActionUrls: string[]): string {
  const origins = formActionUrls.flatMap((url) => {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    return parsed && (parsed.protocol === 'https:' || parsed.protocol === 'http:') ? [parsed.origin] : [];
  });
  const directives = { ...DIRECTIVES, 'form-action': [...new Set([...DIRECTIVES['form-action'], ...origins])] };
  return Object.entries(directives)
    .map(([name, values]) => [name, ...values].join(' '))
    .join(';');
}

/**
 * The policy of Paybridge's own pages (checkout, portal, console): scripts and styles from this origin
 * only (the built files under /web/, no inline code), no plugins, and framed only by `frameAncestors`
 * (the merchant's configured origins, for the embedded checkout) besides this origin.
 */
export function hostedPagePolicy(frameAncestors: string[] = []): string {
  const directives: Record<string, string[]> = {
    ...DIRECTIVES,
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'frame-ancestors': ["'self'", ...frameAncestors],
  };
  // Same-origin relative URLs only: upgrading them would break a plain-http deployment behind no proxy.
  delete directives['upgrade-insecure-requests'];
  return Object.entries(directives)
    .map(([name, values]) => [name, ...values].join(' '))
    .join(';');
}
