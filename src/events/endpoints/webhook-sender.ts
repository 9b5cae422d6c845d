import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isPrivateAddress, PrivateTargetError, publicOnlyLookup } from './target-address';

// Connections are kept alive between deliveries to one endpoint; each new one goes through the lookup.
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 100 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 100 }) };

export interface SendResult {
  statusCode?: number;
  retryAfter?: string;
  error?: string;
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivateTargets: boolean;
}

/**
 * POSTs one signed delivery. Never throws: a refused address, a network error or a timeout comes back as
 * `error`. The whole exchange (connect, send, answer) is bounded by timeoutMs, and the answer's body is
 * read and dropped (at most 64 KB), so a slow or hanging endpoint costs one socket for that long at most.
 */
export function sendWebhook(url: string, headers: Record<string, string>, body: string, options: SendOptions): Promise<SendResult> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ error: 'invalid URL' });
    }
    const host = target.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is connected to without a lookup: checked here instead.
    if (!options.allowPrivateTargets && isIP(host) && isPrivateAddress(host)) {
      return resolve({ error: new PrivateTargetError(`${host} is a private address`).message });
    }
    const secure = target.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: options.allowPrivateTargets ? undefined : publicOnlyLookup,
        agent: secure ? agents.https : agents.http,
      },
      (res: IncomingMessage) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > 65_536) res.destroy();
        });
        const answer = () => finish({ statusCode: res.statusCode, retryAfter: headerValue(res.headers['retry-after']) });
        res.on('end', answer);
        res.on('close', answer);
        res.on('error', answer);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ error: `timed out after ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    req.on('error', (err) => finish({ error: err.message }));
    req.end(body);
  });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
