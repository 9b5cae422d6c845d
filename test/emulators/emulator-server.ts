// Over 400 lines on purpose: the one base every provider emulator shares (server, router, body parsing,
// failure injection, webhook delivery, request log), kept in one place so every emulator behaves the same.
import { randomBytes } from 'node:crypto';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * Shared base of the provider emulators: a node:http server on 127.0.0.1 with a tiny router, body
 * parsing (form-encoded with nested brackets, and JSON), failure injection, outgoing webhook delivery
 * with a record of every attempt, and a log of every request received.
 */

/** A parsed form/query value: `a[b][0]=x` becomes `{ a: { b: ['x'] } }`. */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

export interface EmulatorRequest {
  method: string;
  /** Path without query string and without a trailing slash. */
  path: string;
  /** Query string parsed with the same nested-bracket rules as form bodies. */
  query: FormObject;
  /** The raw query string (URLSearchParams) for providers that read flat names such as `data.id`. */
  search: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Form bodies: a FormObject; JSON bodies: whatever JSON.parse returned; no body: {}. */
  body: unknown;
  /** Path parameters (`:id`). */
  params: Record<string, string>;
  /** Emulator-assigned id, also answered in a `Request-Id` header by providers that do so. */
  requestId: string;
  remoteAddress: string;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings are sent as-is with `contentType` (default text/html). */
  body?: unknown;
  contentType?: string;
}

export type RouteHandler = (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

export interface RouteOptions {
  /**
   * A call that moves money (create/confirm a payment, create a checkout/preference, refund):
   * failure injection applies to it. Other routes are only affected by faults injected with scope 'any'.
   */
  money?: boolean;
  /** Run the emulator's authenticate() before the handler. */
  auth?: boolean;
}

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
  options: RouteOptions;
}

/** `pass`: the call is answered as usual (it only lets the faults queued after it hit later calls). */
export type FaultKind = 'fail' | 'hang' | 'drop' | 'pass';
/** 'money' (default): the next money calls; 'any': the next calls to any provider route (also GET). */
export type FaultScope = 'money' | 'any';

export interface Fault {
  kind: FaultKind;
  status: number;
  scope: FaultScope;
}

export interface RequestLogEntry {
  requestId: string;
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  receivedAt: Date;
  /** The injected fault this request consumed, if any. */
  fault?: FaultKind;
  status?: number;
}

export interface DeliveryRecord {
  id: string;
  /** What the emulator was delivering: 'webhook' (Stripe, Mercado Pago) or 'postback' (Segpay). */
  kind: string;
  /** Provider object this delivery is about (event id, notification id, postback id). */
  subjectId: string;
  url: string;
  method: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  startedAt: Date;
  /** HTTP status answered by the receiver; undefined when the connection failed. */
  status?: number;
  responseBody?: string;
  error?: string;
  durationMs?: number;
}

export interface OutgoingRequest {
  kind: string;
  subjectId: string;
  url: string;
  method?: string;
  headers: Record<string, string>;
  body: string;
}

const MAX_BODY_BYTES = 1024 * 1024;
const DELIVERY_TIMEOUT_MS = 10_000;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Random id characters as providers use them (alphanumeric). */
export function randomId(length = 24): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A minimal HTML page for the hosted pages and control routes. */
export function htmlPage(title: string, body: string): string {
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}button{margin:.3em;padding:.5em 1em}',
    'form{display:inline}.box{border:1px solid #ccc;padding:1em;margin:1em 0}</style>',
    `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  ].join('');
}

export function html(status: number, title: string, body: string): EmulatorResponse {
  return { status, body: htmlPage(title, body), contentType: 'text/html; charset=utf-8' };
}

export function json(status: number, body: unknown, headers?: Record<string, string>): EmulatorResponse {
  return { status, body, headers };
}

export function redirect(location: string): EmulatorResponse {
  return { status: 303, headers: { Location: location }, body: '', contentType: 'text/plain' };
}

/**
 * Parses `a[b][0][c]=x` style pairs (Stripe's and PHP/qs's form encoding) into nested objects.
 * Objects whose keys are all array indices become arrays; `a[]=x` appends.
 */
export function parseNestedPairs(pairs: Iterable<[string, string]>): FormObject {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of pairs) {
    const path = splitKey(rawKey);
    if (path.length === 0 || path.some((part) => FORBIDDEN_KEYS.has(part))) continue;
    let node: Record<string, unknown> = root;
    for (let i = 0; i < path.length; i++) {
      let part = path[i];
      const last = i === path.length - 1;
      if (part === '') part = String(Object.keys(node).length); // `a[]` appends
      if (last) {
        node[part] = value;
      } else {
        const next = node[part];
        if (typeof next !== 'object' || next === null) node[part] = {};
        node = node[part] as Record<string, unknown>;
      }
    }
  }
  return arraysFromIndexObjects(root) as FormObject;
}

function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return key === '' ? [] : [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(key.slice(open))) !== null) parts.push(match[1]);
  return parts;
}

function arraysFromIndexObjects(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const key of keys) record[key] = arraysFromIndexObjects(record[key]);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => record[String(k)]);
  }
  return record;
}

/** Encodes a nested object the way Stripe's SDK and HTML forms do (`a[b][0]=x`). */
export function encodeNested(value: unknown, prefix = ''): string[] {
  if (value === undefined) return [];
  if (value === null || typeof value !== 'object') {
    return [`${encodeURIComponent(prefix)}=${encodeURIComponent(String(value ?? ''))}`];
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  return entries.flatMap(([k, v]) => encodeNested(v, prefix ? `${prefix}[${k}]` : k));
}

/** JSON with keys sorted, to compare request parameters independent of their order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export abstract class EmulatorServer {
  private server?: Server;
  private baseUrl?: string;
  private readonly routeTable: Route[] = [];
  private readonly faults: Fault[] = [];
  private readonly hung = new Set<ServerResponse>();
  private readonly log: RequestLogEntry[] = [];
  private readonly deliveryLog: DeliveryRecord[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private deliveryAbort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();

  protected constructor(readonly name: string) {
    this.route('GET', '/_emulator', () => this.indexPage());
    this.route('GET', '/_emulator/state', () => json(200, this.state()));
    this.route('GET', '/_emulator/faults', () => json(200, { faults: this.pendingFaults() }));
    this.route('POST', '/_emulator/faults', (req) => this.injectFaultFromRequest(req));
    this.route('DELETE', '/_emulator/faults', () => {
      this.clearFaults();
      return json(200, { faults: [] });
    });
    this.route('GET', '/_emulator/requests', () => json(200, { requests: this.requestLog() }));
    this.route('GET', '/_emulator/deliveries', () => json(200, { deliveries: this.deliveries() }));
  }

  /** The provider's error answer for an injected failure with this HTTP status. */
  protected abstract faultResponse(status: number, req: EmulatorRequest): EmulatorResponse;

  /** Checks credentials on routes registered with `auth: true`; returns an error response or null. */
  protected authenticate(_req: EmulatorRequest): EmulatorResponse | null {
    return null;
  }

  protected notFound(req: EmulatorRequest): EmulatorResponse {
    return json(404, { error: `no route for ${req.method} ${req.path}` });
  }

  /** A body that could not be parsed (malformed JSON). */
  protected badBody(_req: EmulatorRequest, message: string): EmulatorResponse {
    return json(400, { error: message });
  }

  /** Emulator state for GET /_emulator/state. */
  protected abstract state(): Record<string, unknown>;

  /** Extra links for the /_emulator index page. */
  protected indexLinks(): string[] {
    return [];
  }

  protected route(method: string, pattern: string, handler: RouteHandler, options: RouteOptions = {}): void {
    this.routeTable.push({ method, segments: splitPath(pattern), handler, options });
  }

  // ---------------------------------------------------------------- lifecycle

  /** Listens on 127.0.0.1 (port 0 = any free port) and resolves the base URL, e.g. http://127.0.0.1:54321. */
  async start(port = 0): Promise<string> {
    if (this.server) throw new Error(`${this.name} emulator already started`);
    this.deliveryAbort = new AbortController();
    const server = createServer((req, res) => {
      this.dispatch(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`emulator error: ${error instanceof Error ? error.message : String(error)}`);
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${address.port}`;
    return this.baseUrl;
  }

  /** Closes the server, every open connection (including hung requests) and any delivery in flight. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.deliveryAbort.abort();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Base URL once started (http://127.0.0.1:port). */
  get url(): string {
    if (!this.baseUrl) throw new Error(`${this.name} emulator not started`);
    return this.baseUrl;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  // ---------------------------------------------------------------- failure injection

  /**
   * The next `count` money calls answer `status` with the provider's error shape (500 → server error,
   * 429 → rate limit, 503, …) without doing anything. Like a load balancer or rate limiter in front of
   * the provider, these answers are not stored under the idempotency key: a retry runs normally.
   */
  failNext(count: number, status = 500, scope: FaultScope = 'money'): this {
    return this.queueFault({ kind: 'fail', status, scope }, count);
  }

  /** The next `count` calls are answered as usual: a fault queued after them hits the call after those (mid-way). */
  passNext(count: number, scope: FaultScope = 'money'): this {
    return this.queueFault({ kind: 'pass', status: 0, scope }, count);
  }

  /** The next `count` money calls are never answered and have no effect; the request stays open until stop(). */
  hangNext(count: number, scope: FaultScope = 'money'): this {
    return this.queueFault({ kind: 'hang', status: 0, scope }, count);
  }

  /**
   * The next `count` money calls are performed (the charge happens, is recorded, its webhooks are sent and
   * its answer is stored under the idempotency key), then the socket is destroyed without an answer:
   * the caller cannot know whether it was charged. A retry that is answered from the idempotency store
   * also consumes one of these.
   */
  dropAfterChargeNext(count: number, scope: FaultScope = 'money'): this {
    return this.queueFault({ kind: 'drop', status: 0, scope }, count);
  }

  clearFaults(): this {
    this.faults.length = 0;
    return this;
  }

  pendingFaults(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  private queueFault(fault: Fault, count: number): this {
    if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a non-negative integer, got ${count}`);
    if (fault.kind === 'fail' && (fault.status < 400 || fault.status > 599))
      throw new Error(`failure status must be 4xx/5xx, got ${fault.status}`);
    for (let i = 0; i < count; i++) this.faults.push({ ...fault });
    return this;
  }

  private takeFault(route: Route): Fault | undefined {
    const index = this.faults.findIndex((f) => f.scope === 'any' || route.options.money === true);
    return index === -1 ? undefined : this.faults.splice(index, 1)[0];
  }

  private injectFaultFromRequest(req: EmulatorRequest): EmulatorResponse {
    const source = { ...req.query, ...(asRecord(req.body) ?? {}) };
    const kind = asString(source.kind);
    const count = Number(asString(source.count) ?? '1');
    const status = Number(asString(source.status) ?? '500');
    const scope = asString(source.scope) === 'any' ? 'any' : 'money';
    try {
      if (kind === 'fail') this.failNext(count, status, scope);
      else if (kind === 'hang') this.hangNext(count, scope);
      else if (kind === 'drop') this.dropAfterChargeNext(count, scope);
      else return json(400, { error: "kind must be 'fail', 'hang' or 'drop'" });
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
    return json(200, { faults: this.pendingFaults() });
  }

  // ---------------------------------------------------------------- logs

  /** Every request received, oldest first (headers and raw bodies included). */
  requestLog(): RequestLogEntry[] {
    return this.log.map((entry) => ({ ...entry }));
  }

  /** Every outgoing webhook/postback attempt, oldest first. */
  deliveries(): DeliveryRecord[] {
    return this.deliveryLog.map((entry) => ({ ...entry }));
  }

  /** Resolves once every delivery started so far (and any it triggers) has finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  // ---------------------------------------------------------------- outgoing requests

  /**
   * Sends a webhook/postback on the next turn of the event loop (so an API answer that caused it is
   * written first), records the attempt, and resolves with the record. Never rejects.
   */
  protected deliver(request: OutgoingRequest): Promise<DeliveryRecord> {
    const record: DeliveryRecord = {
      id: `dlv_${randomId(16)}`,
      kind: request.kind,
      subjectId: request.subjectId,
      url: request.url,
      method: request.method ?? 'POST',
      requestHeaders: { ...request.headers },
      requestBody: request.body,
      startedAt: new Date(),
    };
    this.deliveryLog.push(record);
    const promise = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const started = Date.now();
      try {
        const signal = AbortSignal.any([this.deliveryAbort.signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]);
        const response = await fetch(request.url, { method: record.method, headers: request.headers, body: request.body, signal });
        record.status = response.status;
        record.responseBody = await response.text();
      } catch (error) {
        record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      record.durationMs = Date.now() - started;
      return { ...record };
    });
    this.track(promise);
    return promise;
  }

  /** Keeps `idle()` waiting for this promise. */
  protected track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = (): void => {
      this.pending.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  /** A timer cleared by stop() and not keeping the process alive. */
  protected schedule(delayMs: number, fn: () => void): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        fn();
      },
      Math.max(0, Math.min(delayMs, 2_147_483_647)),
    );
    timer.unref();
    this.timers.add(timer);
  }

  // ---------------------------------------------------------------- dispatch

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const entry: RequestLogEntry = {
      requestId: `req_${randomId(14)}`,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      headers: req.headers,
      rawBody: '',
      receivedAt: new Date(),
    };
    this.log.push(entry);

    let rawBody: string;
    try {
      rawBody = await readBody(req);
    } catch {
      res.writeHead(413, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('request body too large');
      return;
    }
    entry.rawBody = rawBody;

    const path = normalisePath(url.pathname);
    const ereq: EmulatorRequest = {
      method: entry.method,
      path,
      query: parseNestedPairs(url.searchParams.entries()),
      search: url.searchParams,
      headers: req.headers,
      rawBody,
      body: {},
      params: {},
      requestId: entry.requestId,
      remoteAddress: req.socket.remoteAddress ?? '',
    };

    const match = this.match(ereq.method, path);
    if (!match) {
      this.send(res, entry, this.notFound(ereq));
      return;
    }
    ereq.params = match.params;
    const { route } = match;

    const fault = path.startsWith('/_emulator') ? undefined : this.takeFault(route);
    if (fault && fault.kind !== 'pass') entry.fault = fault.kind;
    if (fault?.kind === 'fail') {
      this.send(res, entry, this.faultResponse(fault.status, ereq));
      return;
    }
    if (fault?.kind === 'hang') {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }

    const parsed = parseBody(req.headers, rawBody);
    if (parsed.error) {
      this.send(res, entry, this.badBody(ereq, parsed.error));
      return;
    }
    ereq.body = parsed.body;

    if (route.options.auth) {
      const denied = this.authenticate(ereq);
      if (denied) {
        this.send(res, entry, denied);
        return;
      }
    }

    const response = await route.handler(ereq);
    if (fault?.kind === 'drop') {
      entry.status = 0;
      res.socket?.destroy();
      return;
    }
    this.send(res, entry, response);
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const segments = splitPath(path);
    for (const route of this.routeTable) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length; i++) {
        const expected = route.segments[i];
        if (expected.startsWith(':')) params[expected.slice(1)] = decodeURIComponent(segments[i]);
        else if (expected !== segments[i]) {
          ok = false;
          break;
        }
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  private send(res: ServerResponse, entry: RequestLogEntry, response: EmulatorResponse): void {
    entry.status = response.status;
    const headers: Record<string, string> = { ...(response.headers ?? {}) };
    let payload: string;
    if (typeof response.body === 'string') {
      payload = response.body;
      headers['Content-Type'] ??= response.contentType ?? 'text/html; charset=utf-8';
    } else if (response.body === undefined) {
      payload = '';
    } else {
      payload = JSON.stringify(response.body, null, 2);
      headers['Content-Type'] ??= response.contentType ?? 'application/json';
    }
    headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(response.status, headers);
    res.end(payload);
  }

  private indexPage(): EmulatorResponse {
    const links = [
      '<li><a href="/_emulator/state">state (JSON)</a></li>',
      '<li><a href="/_emulator/requests">requests received (JSON)</a></li>',
      '<li><a href="/_emulator/deliveries">webhook/postback deliveries (JSON)</a></li>',
      '<li><a href="/_emulator/faults">pending faults (JSON)</a></li>',
      ...this.indexLinks().map((l) => `<li>${l}</li>`),
    ];
    const faultForm = [
      '<div class="box"><form method="post" action="/_emulator/faults">',
      'Inject <select name="kind"><option>fail</option><option>hang</option><option>drop</option></select> ',
      'count <input name="count" value="1" size="3"> status <input name="status" value="500" size="4"> ',
      'scope <select name="scope"><option>money</option><option>any</option></select> <button>inject</button></form></div>',
    ].join('');
    return html(200, `${this.name} emulator`, `<ul>${links.join('')}</ul>${faultForm}`);
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function normalisePath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') : path;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(headers: IncomingHttpHeaders, raw: string): { body: unknown; error?: string } {
  if (raw.trim() === '') return { body: {} };
  const type = (headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/json')) {
    try {
      return { body: JSON.parse(raw) as unknown };
    } catch {
      return { body: {}, error: 'Invalid JSON body' };
    }
  }
  // Form-encoded (Stripe's SDK, HTML forms, Segpay postbacks) is the default.
  return { body: parseNestedPairs(new URLSearchParams(raw).entries()) };
}
