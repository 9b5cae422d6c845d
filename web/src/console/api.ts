import { newIdempotencyKey, request } from '../shared/api';

let csrfToken = '';

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/**
 * The API's own routes, called with the console's session cookie (sent by the browser, HttpOnly) and,
 * on every state-changing request, the session's CSRF token and a fresh Idempotency-Key.
 */
export function api<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = method === 'GET' ? {} : { 'X-CSRF-Token': csrfToken, 'Idempotency-Key': newIdempotencyKey() };
  return request<T>(method, url, body, headers);
}

export interface Page<T> {
  data: T[];
  hasMore?: boolean;
}
