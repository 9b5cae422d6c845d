import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../config/env';
import { ENDPOINT_SINK, type ClaimedDelivery } from '../relay/deliveries.types';
import { parseRetryAfter, parseSchedule, scheduledDelay } from '../relay/retry-schedule';
import type { Sink, SinkResult } from '../relay/sink';
import { sendWebhook } from './webhook-sender';
import { webhookHeaders } from './webhook-signature';
import { WebhookEndpointsService } from './webhook-endpoints.service';

// Retry-After is honoured up to a day: a recipient cannot park a delivery past its schedule's reach.
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;
// An endpoint taking every delivery has its success written at most this often by one instance (the
// write clears a failure record another instance may have started, so it is never skipped for long).
const SUCCESS_WRITE_EVERY_MS = 30_000;

/** Merchants' endpoints, per the Standard Webhooks specification (signed POST, 2xx delivered, 410 disables). */
@Injectable()
export class WebhookEndpointSink implements Sink {
  readonly name = ENDPOINT_SINK;
  readonly enabled = true;
  readonly global = false;
  readonly perTarget: number;
  readonly attemptTimeoutMs: number;
  private readonly schedule: number[];
  private readonly allowPrivateTargets: boolean;
  /** When this instance last wrote a success per endpoint (forgotten at its next failure). */
  private readonly successWritten = new Map<string, number>();

  constructor(
    private readonly endpoints: WebhookEndpointsService,
    config: ConfigService<Env, true>,
  ) {
    this.perTarget = config.get('WEBHOOK_ENDPOINT_CONCURRENCY', { infer: true });
    this.attemptTimeoutMs = config.get('WEBHOOK_ENDPOINT_TIMEOUT_MS', { infer: true });
    this.schedule = parseSchedule(config.get('WEBHOOK_ENDPOINT_RETRY_SCHEDULE', { infer: true }));
    this.allowPrivateTargets = config.get('WEBHOOK_ALLOW_PRIVATE_TARGETS', { infer: true });
  }

  async deliver(delivery: ClaimedDelivery): Promise<SinkResult> {
    const endpoint = delivery.endpoint;
    if (!endpoint?.enabled) return { delivered: false, error: 'endpoint disabled', final: true };
    const body = JSON.stringify(delivery.event);
    const sent = await sendWebhook(endpoint.url, webhookHeaders(endpoint.secret, delivery.eventId, body), body, {
      timeoutMs: this.attemptTimeoutMs,
      allowPrivateTargets: this.allowPrivateTargets,
    });
    const status = sent.statusCode;
    if (status !== undefined && status >= 200 && status < 300) return { delivered: true, statusCode: status };
    return {
      delivered: false,
      statusCode: status,
      error: sent.error ?? `HTTP ${status}`,
      retryAfterMs: parseRetryAfter(sent.retryAfter),
      final: status === 410,
    };
  }

  retryDelayMs(attempt: number, result: SinkResult): number | null {
    const scheduled = scheduledDelay(this.schedule, attempt);
    if (scheduled === null) return null;
    return result.retryAfterMs === undefined ? scheduled : Math.max(scheduled, Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS));
  }

  async afterAttempt(delivery: ClaimedDelivery, result: SinkResult): Promise<void> {
    if (!delivery.endpoint?.enabled) return;
    if (result.delivered) {
      const written = this.successWritten.get(delivery.target);
      if (written !== undefined && Date.now() - written < SUCCESS_WRITE_EVERY_MS) return;
      await this.endpoints.recordSuccess(delivery.merchantId, delivery.target);
      this.successWritten.set(delivery.target, Date.now());
      return;
    }
    this.successWritten.delete(delivery.target);
    if (result.statusCode === 410) await this.endpoints.disable(delivery.merchantId, delivery.target, 'gone');
    else await this.endpoints.recordFailure(delivery.merchantId, delivery.target);
  }
}
