import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Secrets and personal data never reach a log line. */
export const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["x-signature"]',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'secret',
  'key',
  'token',
  'email',
  'password',
  '*.secret',
  '*.token',
  '*.email',
  '*.customerEmail',
  '*.recipientEmail',
  '*.card',
  '*.cardNumber',
  '*.cvc',
  '*.paymentMethod',
  '*.password',
  '*.*.email',
  '*.*.token',
];

/**
 * X-Request-Id: accepted when well-formed, generated otherwise. Fastify calls this first (genReqId) and
 * pino-http again: the id is kept on the raw request so both agree.
 */
export function assignRequestId(req: IncomingMessage): string {
  if (typeof req.id === 'string' && req.id) return req.id;
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : `req_${randomUUID()}`;
  req.id = id;
  return id;
}

/**
 * Secrets and personal data that travel in URLs: the Segpay postback token (path), gift-card codes
 * (bearer secrets, in paths), and emails or tokens in query strings.
 */
export function redactUrl(url: string): string {
  return (
    url
      .replace(/^(\/webhooks\/segpay\/)[^/?#]+/, '$1[redacted]')
      .replace(/^(\/gift-cards\/)(?!purchase\b|redeem\b)[^/?#]+/, '$1[redacted]')
      // A portal URL's token is the customer's access (sessions is the merchant's route that makes them).
      .replace(/^(\/portal\/)(?!sessions\b)[^/?#]+/, '$1[redacted]')
      .replace(/([?&](?:customerEmail|email|recipientEmail|token|code)=)[^&#]*/gi, '$1[redacted]')
  );
}

/**
 * An error as it may be logged: type, message, code and stack only. Driver and SDK errors carry more
 * (pg's `detail` quotes row values such as emails; provider errors carry request parameters). pino-http
 * hands this serializer the output of pino's own (a plain object with every property), not the Error.
 */
export function safeError(err: unknown): unknown {
  if (err === null || typeof err !== 'object') return err;
  const e = err as { type?: unknown; name?: unknown; message?: unknown; code?: unknown; statusCode?: unknown; stack?: unknown };
  return { type: e.type ?? e.name, message: e.message, code: e.code, statusCode: e.statusCode, stack: e.stack };
}

export function pinoParams(level: string): Params {
  return {
    pinoHttp: {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      genReqId: assignRequestId,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        err: safeError,
      },
    },
  };
}
