import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (the signature covers it). */
  body: string;
  event: { id: string; type: string; createdAt: string; merchantId: string; data: Record<string, unknown> };
  /** The request's path and query (notification services: Meta's pixel and access token travel here). */
  url: string;
  receivedAt: number;
}

/** What the receiver does with one request: answer a status (and headers), or never answer. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

/**
 * A merchant's endpoint in a test: records every delivery and answers what `reply` says (200 unless
 * told otherwise), so a test can make it fail, say 410, or hang.
 */
export class EventReceiver {
  readonly received: ReceivedDelivery[] = [];
  reply: (delivery: ReceivedDelivery, index: number) => Reply = () => ({ status: 200 });
  private server?: Server;
  private readonly hanging: ServerResponse[] = [];

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const delivery: ReceivedDelivery = {
          headers: req.headers,
          body,
          event: JSON.parse(body),
          url: req.url ?? '',
          receivedAt: Date.now(),
        };
        this.received.push(delivery);
        const reply = this.reply(delivery, this.received.length - 1);
        if (reply === 'hang') {
          this.hanging.push(res);
          return;
        }
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  }

  /** Answers every request left hanging. */
  release(status = 200): void {
    for (const res of this.hanging.splice(0)) if (!res.writableEnded && !res.destroyed) res.writeHead(status).end();
  }

  eventsOfType(type: string): ReceivedDelivery[] {
    return this.received.filter((d) => d.event.type === type);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.release();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}

/**
 * Verifies a delivery as a merchant would, with the Standard Webhooks reference library (independent of
 * our signing code): throws on a wrong signature or a timestamp outside its five-minute tolerance.
 */
export function verifyStandardWebhook(secret: string, delivery: Pick<ReceivedDelivery, 'headers' | 'body'>): unknown {
  const headers = {
    'webhook-id': String(delivery.headers['webhook-id']),
    'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
    'webhook-signature': String(delivery.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(delivery.body, headers);
}
