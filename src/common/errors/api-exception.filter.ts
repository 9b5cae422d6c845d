import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ReplayedResponse } from '../idempotency/replayed-response';
import { DomainError, ErrorKind, LOCK_LOST_SQLSTATE } from './domain-errors';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'idempotency_error'
  | 'card_error'
  | 'rate_limit_error'
  | 'provider_error'
  | 'api_error';

export interface ApiErrorBody {
  error: {
    type: ApiErrorType;
    code: string;
    message: string;
    param?: string;
    declineCode?: string;
    requestId?: string;
  };
}

const KINDS: Record<ErrorKind, [number, ApiErrorType]> = {
  invalid_request: [400, 'invalid_request_error'],
  not_found: [404, 'invalid_request_error'],
  conflict: [409, 'invalid_request_error'],
  unprocessable: [422, 'invalid_request_error'],
  payload_too_large: [413, 'invalid_request_error'],
  unauthenticated: [401, 'authentication_error'],
  forbidden: [403, 'authentication_error'],
  idempotency_required: [400, 'idempotency_error'],
  idempotency_in_use: [409, 'idempotency_error'],
  idempotency_mismatch: [422, 'idempotency_error'],
  card_declined: [402, 'card_error'],
  rate_limited: [429, 'rate_limit_error'],
  provider_unavailable: [503, 'provider_error'],
  service_unavailable: [503, 'api_error'],
};

/** PostgreSQL error codes that are the client's fault, with the answer they deserve. */
const PG_CODES: Record<string, [number, string, string]> = {
  '23505': [409, 'resource_already_exists', 'A resource with these unique values already exists.'],
  '23503': [422, 'resource_reference_invalid', 'The request references a resource that does not exist.'],
  '23514': [422, 'constraint_violation', 'The request violates a data constraint.'],
  '23502': [400, 'parameter_missing', 'A required value is missing.'],
  '22P02': [400, 'parameter_invalid', 'A value has an invalid format.'],
  '22003': [400, 'parameter_out_of_range', 'A numeric value is out of range.'],
  '22001': [400, 'parameter_too_long', 'A value is too long.'],
};

export function toApiError(err: unknown): { status: number; body: ApiErrorBody; retryAfterSeconds?: number } {
  if (err instanceof DomainError) {
    const [status, type] = KINDS[err.kind];
    return {
      status,
      retryAfterSeconds: err.retryAfterSeconds,
      body: { error: { type, code: err.code, message: err.message, param: err.param, declineCode: err.declineCode } },
    };
  }
  const e = err as { code?: string };
  if (e?.code === LOCK_LOST_SQLSTATE) {
    return toApiError(
      new DomainError(
        'idempotency_in_use',
        'idempotency_key_in_use',
        'This request lost its Idempotency-Key lock to a retry; retry to get the outcome.',
      ),
    );
  }
  if (typeof e?.code === 'string' && PG_CODES[e.code]) {
    const [status, code, message] = PG_CODES[e.code];
    return { status, body: { error: { type: 'invalid_request_error', code, message } } };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status < 500) {
      const type: ApiErrorType =
        status === 401 || status === 403 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : 'invalid_request_error';
      if (status === 413)
        return {
          status,
          body: { error: { type: 'invalid_request_error', code: 'payload_too_large', message: 'The request body is too large.' } },
        };
      if (status === 415)
        return { status, body: { error: { type: 'invalid_request_error', code: 'unsupported_media_type', message: err.message } } };
      // Fastify's body-parsing errors reach us as an HttpException carrying only their message.
      if (status === 400 && /JSON/i.test(err.message)) {
        return { status, body: { error: { type, code: 'invalid_json', message: `The request body is not valid JSON: ${err.message}` } } };
      }
      const code = status === 404 ? 'route_not_found' : status === 429 ? 'rate_limited' : 'invalid_request';
      return { status, body: { error: { type, code, message: err.message } } };
    }
  }
  return { status: 500, body: { error: { type: 'api_error', code: 'internal_error', message: 'An unexpected error occurred.' } } };
}

/** The single place where any error becomes the API's error shape (API.md, "errors"). */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<FastifyRequest>();
    const res = ctx.getResponse<FastifyReply>();
    if (res.sent) return;
    if (err instanceof ReplayedResponse) {
      res.status(err.status).header('Idempotent-Replayed', 'true');
      if (err.body === '') res.send();
      else res.type('application/json; charset=utf-8').send(err.body);
      return;
    }
    const { status, body, retryAfterSeconds } = toApiError(err);
    if (status >= 500) this.logger.error({ err, requestId: req.id }, 'request failed');
    body.error.requestId = String(req.id ?? '');
    if (retryAfterSeconds !== undefined) res.header('Retry-After', String(retryAfterSeconds));
    res.status(status).send(body);
  }
}
