import { contentSecurityPolicy, hostedPagePolicy } from './security-headers';

describe('contentSecurityPolicy', () => {
  const formAction = (policy: string) => policy.split(';').find((d) => d.startsWith('form-action '));

  it('widens form-action to the origins of the pages a form sends the customer to, and nothing else', () => {
    const policy = contentSecurityPolicy(['https://shop.example.com/thanks?order=1', 'http://127.0.0.1:8080/cancel']);
    expect(formAction(policy)).toBe("form-action 'self' https://shop.example.com http://127.0.0.1:8080");
    expect(policy.replace(formAction(policy) as string, '')).toBe(contentSecurityPolicy([]).replace("form-action 'self'", ''));
  });

  it('adds nothing for a URL that is not http(s) or not a URL', () => {
    expect(formAction(contentSecurityPolicy(['javascript:alert(1)', 'not a url', "https://a.example/'x"]))).toBe(
      "form-action 'self' https://a.example",
    );
  });
});

describe('hostedPagePolicy', () => {
  const directive = (policy: string, name: string) => policy.split(';').find((d) => d.startsWith(`${name} `));

  it('allows no inline script or style, and frames only from this origin and the given ones', () => {
    const policy = hostedPagePolicy(['https://shop.example']);
    expect(policy).not.toContain('unsafe-inline');
    expect(directive(policy, 'script-src')).toBe("script-src 'self'");
    expect(directive(policy, 'style-src')).toBe("style-src 'self'");
    expect(directive(policy, 'frame-ancestors')).toBe("frame-ancestors 'self' https://shop.example");
    expect(directive(hostedPagePolicy(), 'frame-ancestors')).toBe("frame-ancestors 'self'");
  });
});
