import { contentSecurityPolicy } from './security-headers';

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
