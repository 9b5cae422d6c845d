import { Writable } from 'node:stream';
import pinoHttp from 'pino-http';
import { pinoParams, redactUrl, safeError } from './logging';

describe('log redaction', () => {
  it('removes secrets and personal data from URLs', () => {
    expect(redactUrl('/webhooks/segpay/s3cret-token')).toBe('/webhooks/segpay/[redacted]');
    expect(redactUrl('/gift-cards/ABCD-EFGH-JKMN/balance')).toBe('/gift-cards/[redacted]/balance');
    expect(redactUrl('/portal/AbC123/session')).toBe('/portal/[redacted]/session');
    expect(redactUrl('/portal/sessions')).toBe('/portal/sessions');
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

  it('logs only the safe parts of an error through the application logger (pino-http wraps the serializer)', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const { logger } = pinoHttp({ ...(pinoParams('info').pinoHttp as object), stream: sink });
    const pgError = Object.assign(new Error('duplicate key'), { code: '23505', detail: 'Key (email)=(ada@example.com) already exists.' });
    logger.error({ err: pgError }, 'insert failed');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).err).toMatchObject({ type: 'Error', message: 'duplicate key', code: '23505' });
    expect(lines[0]).not.toContain('ada@example.com');
  });
});
