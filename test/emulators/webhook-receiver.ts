import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** Path and query string as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (signatures are computed over it). */
  body: string;
  receivedAt: Date;
}

/**
 * A local HTTP receiver for webhooks and postbacks in tests: records every request and answers a
 * configurable status (200 by default).
 */
export class WebhookReceiver {
  readonly received: ReceivedRequest[] = [];
  /** Status answered to the next requests. */
  status = 200;
  responseBody = 'OK';
  private server?: Server;
  private waiters: { predicate: (r: ReceivedRequest) => boolean; resolve: (r: ReceivedRequest) => void }[] = [];

  async start(path = '/webhook'): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const entry: ReceivedRequest = {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: new Date(),
        };
        this.received.push(entry);
        res.writeHead(this.status, { 'Content-Type': 'text/plain' });
        res.end(this.responseBody);
        this.waiters = this.waiters.filter((w) => {
          if (!w.predicate(entry)) return true;
          w.resolve(entry);
          return false;
        });
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The first request (already received or arriving within `timeoutMs`) matching `predicate`. */
  waitFor(predicate: (r: ReceivedRequest) => boolean, timeoutMs = 3000): Promise<ReceivedRequest> {
    const found = this.received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a webhook')), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  }

  /** Requests whose JSON body has `type` (Stripe events). */
  jsonBodies<T = Record<string, unknown>>(): T[] {
    return this.received.map((r) => JSON.parse(r.body) as T);
  }
}
