/** The API's error shape: {error: {type, code, message, param?, requestId}}. */
export interface ApiError {
  status: number;
  code: string;
  message: string;
}

export class RequestFailed extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

/** A JSON request to this origin; an error answer throws RequestFailed with the API's code and message. */
export async function request<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new RequestFailed({ status: res.status, code: error?.code ?? 'request_failed', message: error?.message ?? res.statusText });
  }
  return json as T;
}

/** A fresh Idempotency-Key for one user action (a retry of that action reuses it). */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** The ?locale= of this page, passed on to the JSON routes so texts and amounts agree. */
export function localeQuery(): string {
  const locale = new URLSearchParams(location.search).get('locale');
  return locale ? `?locale=${encodeURIComponent(locale)}` : '';
}
