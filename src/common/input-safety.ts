import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationFailedError } from './errors/domain-errors';

/** Deepest JSON nesting a request body may have: our deepest DTO needs 4; 32 leaves room and refuses attacks. */
export const MAX_JSON_DEPTH = 32;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the raw JSON nests deeper than `max`. One pass over the bytes before JSON.parse, so a body
 * of thousands of levels costs no parse, no object graph and no recursive walk anywhere after it.
 * Brackets inside strings do not count; malformed JSON is left to the parser to refuse.
 */
export function jsonNestsDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return false;
}

/**
 * The path (`items[0].name`) of the first string or key holding a NUL character, or null. PostgreSQL
 * refuses \u0000 in text, which made such a value a 500. Iterative (an explicit stack), so no input
 * can overflow the call stack.
 */
export function findNullByte(value: unknown, root = ''): string | null {
  // Every request passes here: the common case (no NUL) is answered without building a single path.
  if (!containsNullByte(value)) return null;
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length > 0) {
    const [current, path] = stack.pop() as [unknown, string];
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return path;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], `${path}[${i}]`]);
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        const childPath = path ? `${path}.${key}` : key;
        if (key.includes('\u0000')) return childPath;
        stack.push([child, childPath]);
      }
    }
  }
  return null;
}

function containsNullByte(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return true;
    } else if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) stack.push(current[i]);
    } else if (current !== null && typeof current === 'object') {
      for (const key in current) {
        if (key.includes('\u0000')) return true;
        stack.push((current as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

/** Body fields, path parameters and query values: a NUL anywhere is a 400 naming the field. */
export function assertNoNullBytes(request: { params?: unknown; query?: unknown; body?: unknown }): void {
  for (const part of [request.params, request.query, request.body]) {
    const param = findNullByte(part);
    if (param !== null) throw new ValidationFailedError(`${param || 'The value'} must not contain a null character.`, param || undefined);
  }
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers too large, a request not
 * received within REQUEST_TIMEOUT_MS, a malformed request), answered in the API's error shape.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request_timeout', 'The request was not received in time.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'The request headers are too large.']
        : [400, 'Bad Request', 'malformed_request', 'The request could not be read.'];
  const body = JSON.stringify({ error: { type: 'invalid_request_error', code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * Fastify's router refuses some URLs before any route (hence before Nest's exception filter): a path
 * parameter over maxParamLength (414) or a malformed percent-encoding (400). Same error shape.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode ?? 400;
  const [code, message] =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? ['path_parameter_too_long', 'A path parameter is too long.']
      : err.code === 'FST_ERR_BAD_URL'
        ? ['url_invalid', 'The URL is not valid.']
        : ['invalid_request', 'The request could not be routed.'];
  reply
    .code(status)
    .header('X-Request-Id', request.id)
    .send({ error: { type: status >= 500 ? 'api_error' : 'invalid_request_error', code, message, requestId: String(request.id) } });
}
