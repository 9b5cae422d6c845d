import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Env } from '../config/env';
import { HeldEventError } from '../payments/provider-event-matcher';
import { ProviderEventsHandler } from '../payments/provider-events.handler';
import type { ProviderId } from '../payments/providers/payment-provider';
import { StoredWebhookEvent, WebhookEventsRepository } from './webhook-events.repository';

const BATCH = 20;

/**
 * Processes stored webhook events: at once after they are stored (in the background of the request
 * that stored them), and by a polling worker that picks up what failed or was missed, on any instance.
 * A failure is retried with exponential backoff (1 s, 2 s, 4 s, …); after WEBHOOK_MAX_ATTEMPTS the
 * event becomes a dead letter (GET /admin/dead-letters, replayable). An event the inbound rules hold
 * (HeldEventError: unconfirmed, unmatched, or not what we asked for) is a dead letter at once.
 */
@Injectable()
export class WebhookProcessor implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookProcessor.name);
  private readonly maxAttempts: number;
  private readonly intervalMs: number;
  private readonly enabled: boolean;
  private readonly inFlight = new Set<Promise<unknown>>();
  private polling = false;

  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly handler: ProviderEventsHandler,
    private readonly scheduler: SchedulerRegistry,
    config: ConfigService<Env, true>,
  ) {
    this.maxAttempts = config.get('WEBHOOK_MAX_ATTEMPTS', { infer: true });
    this.intervalMs = config.get('WEBHOOK_WORKER_INTERVAL_MS', { infer: true });
    this.enabled = config.get('JOBS_ENABLED', { infer: true });
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.scheduler.addInterval(
      'webhook-worker',
      setInterval(() => void this.poll(), this.intervalMs),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Starts processing a just-stored event without holding up the provider's request. */
  processSoon(id: string): void {
    const run = this.events
      .claim(id)
      .then((event) => event && this.process(event))
      .catch((err: unknown) => this.logger.error({ err, id }, 'webhook processing failed to start'));
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  async poll(): Promise<number> {
    if (this.polling) return 0;
    this.polling = true;
    try {
      // One claim per event: a claimed batch would be leased for its first event's processing only (each
      // can take a provider call), and another instance would take over the rest while they wait.
      let handled = 0;
      for (; handled < BATCH; handled++) {
        const [event] = await this.events.claimDue(1);
        if (!event) break;
        await this.process(event);
      }
      return handled;
    } catch (err) {
      this.logger.error({ err }, 'webhook worker poll failed');
      return 0;
    } finally {
      this.polling = false;
    }
  }

  private async process(event: StoredWebhookEvent): Promise<void> {
    try {
      const outcome = await this.handler.handle(event.provider as ProviderId, event.payload);
      await this.events.markDone(event.id, outcome);
    } catch (err) {
      if (err instanceof HeldEventError) {
        // Not applied, and retrying cannot change that: kept at once for an admin, and loud.
        this.logger.error({ id: event.id, provider: event.provider, eventId: event.eventId, reason: err.message }, 'webhook event held');
        await this.events.markFailed(event.id, err.message, null);
        return;
      }
      const last = event.attempts >= this.maxAttempts;
      const retryIn = last ? null : 2 ** (event.attempts - 1);
      this.logger.warn({ err, id: event.id, attempts: event.attempts, deadLetter: last }, 'webhook processing failed');
      await this.events.markFailed(event.id, (err as Error).message ?? String(err), retryIn);
    }
  }
}
