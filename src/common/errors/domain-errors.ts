/**
 * HTTP-agnostic errors. Services throw these; the one exception filter maps each kind to a status and
 * an API error type (see api-exception.filter.ts).
 */
export type ErrorKind =
  | 'invalid_request' // 400
  | 'not_found' // 404
  | 'conflict' // 409
  | 'unprocessable' // 422
  | 'payload_too_large' // 413
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'idempotency_required' // 400
  | 'idempotency_in_use' // 409
  | 'idempotency_mismatch' // 422
  | 'card_declined' // 402
  | 'rate_limited' // 429
  | 'provider_unavailable' // 503
  | 'service_unavailable'; // 503

export interface DomainErrorOptions {
  param?: string;
  declineCode?: string;
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly param?: string;
  readonly declineCode?: string;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.param = options.param;
    this.declineCode = options.declineCode;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export class NotFoundError extends DomainError {
  constructor(resource: string, id: string) {
    super('not_found', 'resource_missing', `No such ${resource}: '${id}'`, { param: 'id' });
  }
}

export class ValidationFailedError extends DomainError {
  constructor(message: string, param?: string, code = 'parameter_invalid') {
    super('invalid_request', code, message, { param });
  }
}

export class DatabaseUnavailableError extends DomainError {
  constructor(cause: unknown) {
    super('service_unavailable', 'service_unavailable', 'The database is unavailable or busy; retry shortly.', {
      cause,
      retryAfterSeconds: 1,
    });
  }
}

export class ServiceOverloadedError extends DomainError {
  constructor() {
    super('service_unavailable', 'service_unavailable', 'The service is shedding non-critical load; retry shortly.', {
      retryAfterSeconds: 5,
    });
  }
}

/**
 * The SQLSTATE paybridge_expect() raises (migration 0014) when a statement finds that its request no
 * longer holds its Idempotency-Key lock (a retry took it over): answered as 409 idempotency_key_in_use.
 */
export const LOCK_LOST_SQLSTATE = 'PB409';
