import { createHmac } from 'node:crypto';
import { createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ConfigService } from '@nestjs/config';
import { Env, validateEnv } from '../../../config/env';
import { ProviderUnavailableError, ProviderUnknownOutcomeError, WebhookRequest, WebhookVerificationError } from '../payment-provider';
import { MercadoPagoProvider } from './mercadopago.provider';

const SECRET = 'mp-secret';

/** The adapter with the real SDK and a validated environment (no Nest container needed). */
function provider(env: Record<string, string>): MercadoPagoProvider {
  return new MercadoPagoProvider(new ConfigService<Env, true>({ ...validateEnv({ MERCADOPAGO_ACCESS_TOKEN: 'TEST-1', ...env }) }));
}

const chargeInput = {
  merchantId: 'mer_default',
  reference: 'pay_unit',
  amount: 1000,
  currency: 'BRL',
  token: 'visa:abc',
  customer: { email: 'a@example.com' },
  idempotencyKey: 'pay_unit_1',
};

function notification(signature: string | undefined, dataId = '123'): WebhookRequest {
  return {
    rawBody: Buffer.from(JSON.stringify({ id: 1, action: 'payment.updated', type: 'payment', data: { id: dataId } })),
    ip: '127.0.0.1',
    headers: { 'x-request-id': 'req-1', ...(signature ? { 'x-signature': signature } : {}) },
    query: { 'data.id': dataId, type: 'payment' },
    params: {},
  };
}

const sign = (ts: string, dataId = '123', secret = SECRET) =>
  `ts=${ts},v1=${createHmac('sha256', secret).update(`id:${dataId};request-id:req-1;ts:${ts};`).digest('hex')}`;

describe('MercadoPagoProvider transport and webhook verification (real SDK, local sockets)', () => {
  it('connection refused before anything was sent: ProviderUnavailableError (safe to fail over)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const mp = provider({ MERCADOPAGO_API_BASE: `http://127.0.0.1:${closed}`, PROVIDER_TIMEOUT_MS: '1000' });
    await expect(mp.charge(chargeInput)).rejects.toBeInstanceOf(ProviderUnavailableError);
  });

  it('a request accepted but never answered: ProviderUnknownOutcomeError after PROVIDER_TIMEOUT_MS', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const mp = provider({ MERCADOPAGO_API_BASE: `http://127.0.0.1:${port}`, PROVIDER_TIMEOUT_MS: '200' });
      const started = Date.now();
      await expect(mp.charge(chargeInput)).rejects.toBeInstanceOf(ProviderUnknownOutcomeError);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  describe('parseWebhook', () => {
    const mp = provider({ MERCADOPAGO_WEBHOOK_SECRET: SECRET });
    const now = () => Math.floor(Date.now() / 1000);

    it('accepts a valid signature with ts in seconds or in milliseconds; the event waits for confirmEvent', async () => {
      await expect(mp.parseWebhook(notification(sign(String(now()))))).resolves.toMatchObject({
        eventId: 'mp_ntf_1',
        type: 'payment.updated',
        providerRef: '123',
      });
      await expect(mp.parseWebhook(notification(sign(String(Date.now()))))).resolves.toMatchObject({ providerRef: '123' });
    });

    // Signatures are made when each test runs (it.each tables are built long before, at collection).
    it.each<[string, () => string | undefined]>([
      ['missing', () => undefined],
      ['malformed', () => 'garbage'],
      ['wrong secret', () => sign(String(now()), '123', 'other')],
      ['signed for another payment', () => sign(String(now()), '999')],
      ['stale (310 s)', () => sign(String(now() - 310))],
      ['from the future (310 s)', () => sign(String(now() + 310))],
    ])('refuses a %s signature', async (_case, signature) => {
      await expect(mp.parseWebhook(notification(signature()))).rejects.toBeInstanceOf(WebhookVerificationError);
    });

    it('refuses everything when no webhook secret is configured', async () => {
      const unsigned = provider({});
      await expect(unsigned.parseWebhook(notification(sign(String(now()))))).rejects.toBeInstanceOf(WebhookVerificationError);
    });
  });
});
