import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { DomainError, NotFoundError } from '../common/errors/domain-errors';
import { WebhookVerificationError, type ProviderId } from '../payments/providers/payment-provider';
import { ProviderRegistry } from '../payments/providers/provider-registry';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookProcessor } from './webhook-processor';

/**
 * Provider webhooks: verified on the raw body by the provider's own scheme, stored once per event id
 * before anything else, acknowledged at once, processed in the background (WebhookProcessor).
 */
@ApiTags('webhooks')
@Public()
@Controller('webhooks')
export class WebhooksController {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly events: WebhookEventsRepository,
    private readonly processor: WebhookProcessor,
  ) {}

  /** `simulator` (X-Signature), `stripe` (Stripe-Signature), `mercadopago` (x-signature + x-request-id). */
  @Post(':provider')
  @HttpCode(200)
  receive(@Param('provider') provider: string, @Req() req: FastifyRequest) {
    return this.accept(provider, req);
  }

  /** Segpay postbacks are unsigned: the secret path token stands in for a signature. */
  @Post('segpay/:token')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  receiveSegpay(@Req() req: FastifyRequest) {
    return this.accept('segpay', req);
  }

  private async accept(provider: string, req: FastifyRequest): Promise<{ received: true; duplicate: boolean }> {
    if (!this.registry.has(provider)) throw new NotFoundError('webhook endpoint', provider);
    let event;
    try {
      event = await this.registry.get(provider).parseWebhook({
        rawBody: req.rawBody ?? Buffer.alloc(0),
        ip: req.ip,
        headers: req.headers,
        query: req.query as Record<string, unknown>,
        params: req.params as Record<string, string>,
      });
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        throw new DomainError(err.status === 403 ? 'forbidden' : 'invalid_request', 'webhook_verification_failed', err.message);
      }
      if (err instanceof SyntaxError)
        throw new DomainError('invalid_request', 'webhook_payload_invalid', 'The webhook body is not valid JSON.');
      throw err;
    }
    const stored = await this.events.insert(provider as ProviderId, event);
    if (stored) this.processor.processSoon(stored.id);
    return { received: true, duplicate: stored === null };
  }
}
