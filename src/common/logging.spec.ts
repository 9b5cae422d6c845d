import { redactUrl, safeError } from './logging';

describe('log redaction', () => {
  it('removes secrets and personal data from URLs', () => {
    expect(redactUrl('/webhooks/segpay/s3cret-token')).toBe('/webhooks/segpay/[redacted]');
    expect(redactUrl('/gift-cards/ABCD-EFGH-JKMN/balance')).toBe('/gift-cards/[redacted]/balance');
    expect(redactUrl('/gift-cards/redeem')).toBe('/gift-cards/redeem');
    expect(redactUrl('/transactions?status=failed&customerEmail=ada@example.com')).toBe(
      '/transactions?status=failed&customerEmail=[redacted]',
    );
  });

  it('logs only the safe parts of an error', () => {
    const pgError = Object.assign(new Error('duplicate key'), { code: '23505', detail: 'Key (email)=(ada@example.com) already exists.' });
    const logged = safeError(pgError) as Record<string, unknown>;
    expect(logged).toMatchObject({ message: 'duplicate key', code: '23505' });
    expect(JSON.stringify(logged)).not.toContain('ada@example.com');
  });
});
