import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Env } from '../../config/env';
import { DatabaseService } from '../../database/database.service';
import { MetricsService } from '../../metrics/metrics.service';
import { AttemptRecorder } from './attempt-recorder';
import { DeliveriesRepository, type GlobalSinkFilter } from './deliveries.repository';
import type { ClaimedDelivery } from './deliveries.types';
import { EVENT_SINKS, Sink, SinkResult } from './sink';

// A claimed delivery whose claimer vanished (a crash) is due again this long after its attempt's timeout.
const LEASE_MARGIN_MS = 30_000;
// On shutdown, deliveries in flight get this long to finish; the rest are retried when their lease ends.
const SHUTDOWN_GRACE_MS = 2_000;
// After a fan-out that found everything fanned out, passes within this long only claim.
const FAN_OUT_PAUSE_MS = 50;

/**
 * The outbox relay, on every instance: fans committed outbox rows out into one delivery per sink target,
 * claims due deliveries (FOR UPDATE SKIP LOCKED, one short statement, no transaction held while sending),
 * sends each through its sink at least once, and records every attempt: delivered, failed with its next
 * attempt, or dead. Order per aggregate per target is kept by the claim; a slow target holds at most
 * its sink's per-target share of this instance's deliveries in flight, so it never blocks the others.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly sinks: Map<string, Sink>;
  private readonly globalSinks: GlobalSinkFilter[];
  private readonly prepareSinks: string[];
  private readonly batch: number;
  private readonly capacity: number;
  private readonly intervalMs: number;
  private readonly background: boolean;
  /** Deliveries in flight on this instance, per target. */
  private readonly inFlight = new Map<string, { sink: Sink; n: number }>();
  private readonly running = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private pumping: Promise<unknown> | null = null;
  private pumpAgain = false;
  private stopped = false;
  private readonly recorder: AttemptRecorder;
  /** When fan-out last found fewer rows than a batch: until a moment later, a pass only claims. */
  private fannedOutAllAt = 0;
  private readonly outcomes: Counter<string>;
  private readonly latency: Histogram<string>;

  constructor(
    private readonly db: DatabaseService,
    private readonly deliveries: DeliveriesRepository,
    @Inject(EVENT_SINKS) sinks: Sink[],
    metrics: MetricsService,
    config: ConfigService<Env, true>,
  ) {
    const enabled = sinks.filter((s) => s.enabled);
    this.sinks = new Map(enabled.map((s) => [s.name, s]));
    this.globalSinks = enabled.filter((s) => s.global).map((s) => ({ sink: s.name, eventTypes: s.eventTypes }));
    this.prepareSinks = enabled.filter((s) => s.prepare).map((s) => s.name);
    this.batch = config.get('EVENT_RELAY_BATCH', { infer: true });
    this.capacity = config.get('EVENT_RELAY_CONCURRENCY', { infer: true });
    this.intervalMs = config.get('EVENT_RELAY_INTERVAL_MS', { infer: true });
    this.background = config.get('JOBS_ENABLED', { infer: true });
    this.recorder = new AttemptRecorder(deliveries);

    this.outcomes = new Counter({
      name: 'event_delivery_attempts_total',
      help: 'Delivery attempts by sink and outcome (delivered, failed: retried later, dead)',
      labelNames: ['sink', 'outcome'],
      registers: [metrics.registry],
    });
    this.latency = new Histogram({
      name: 'event_delivery_latency_seconds',
      help: 'From the event written (its transaction) to its delivery confirmed by the sink',
      labelNames: ['sink'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [metrics.registry],
    });
    const repository = this.deliveries;
    const sinkNames = [...this.sinks.keys()];
    new Gauge({
      name: 'event_deliveries_backlog',
      help: 'Deliveries not yet delivered (pending or waiting for a retry), per sink',
      labelNames: ['sink'],
      registers: [metrics.registry],
      async collect() {
        // A scrape must not fail when the database is busy: keep the last values.
        const rows = await repository.backlogBySink().catch(() => null);
        if (!rows) return;
        for (const sink of sinkNames) this.set({ sink }, rows.find((r) => r.sink === sink)?.n ?? 0);
      },
    });
  }

  onApplicationBootstrap(): void {
    if (!this.background) return;
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const grace = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([Promise.allSettled([this.pumping, ...this.running]), grace]);
  }

  /**
   * Runs until nothing is due: every outbox row fanned out, every due delivery attempted and its
   * outcome recorded. Deliveries waiting for a later retry, or held back behind an earlier event of
   * their aggregate that another instance is sending, are left. For tests and tools.
   */
  async drain(): Promise<void> {
    for (;;) {
      // Nothing in flight: the last word must come from a fan-out that found nothing, not a skipped one.
      const { fanned, claimed } = await this.pump(this.running.size === 0);
      if (fanned === 0 && claimed === 0 && this.running.size === 0) return;
      if (claimed === 0 && this.running.size > 0) await Promise.race(this.running);
    }
  }

  /** Background mode: one pump at a time; a wake-up during a pump runs another right after it. */
  private wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump()
      .then(({ claimed }) => {
        if (claimed > 0) this.pumpAgain = true; // there may be more
      })
      .catch((err) => this.logger.error({ err }, 'outbox relay pass failed'))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          setImmediate(() => this.wake());
        }
      });
  }

  /**
   * One pass: fan out, then claim what capacity allows. Every finished delivery starts a pass to refill
   * its slot; fan-out, a transaction of its own, is skipped in the passes within FAN_OUT_PAUSE_MS after
   * one that found everything fanned out (new events then wait at most that long).
   */
  private async pump(forceFanOut = false): Promise<{ fanned: number; claimed: number }> {
    let fanned = 0;
    if (!forceFanOut && Date.now() - this.fannedOutAllAt < FAN_OUT_PAUSE_MS) return { fanned, claimed: await this.claimAndStart() };
    // Bounded, so that a steady stream of new events cannot keep a pass from claiming.
    for (let round = 0; round < 10; round++) {
      const n = await this.fanOut();
      fanned += n;
      if (n < this.batch) {
        this.fannedOutAllAt = Date.now();
        break;
      }
    }
    const claimed = await this.claimAndStart();
    return { fanned, claimed };
  }

  /** One runner at a time across instances, so deliveries are created in the order of the outbox. */
  private fanOut(): Promise<number> {
    return this.db.transaction(async (tx) => {
      if (!(await this.deliveries.tryFanOutLock(tx))) return 0;
      const { fanned, toPrepare } = await this.deliveries.fanOut(this.batch, this.globalSinks, this.prepareSinks, tx);
      // In the same transaction: a delivery is never claimable before its payload is prepared.
      for (const [name, created] of toPrepare) await this.sinks.get(name)?.prepare?.(created, tx);
      return fanned;
    });
  }

  private async claimAndStart(): Promise<number> {
    const free = this.capacity - this.running.size;
    if (free <= 0 || this.sinks.size === 0 || this.stopped) return 0;
    const claimed = await this.deliveries.claim({
      limit: Math.min(free, this.batch),
      sinks: [...this.sinks.values()].map((s) => ({ sink: s.name, perTarget: s.perTarget })),
      inFlight: [...this.inFlight].map(([target, { sink, n }]) => ({ target, free: sink.perTarget - n })),
      leaseMs: Math.max(...[...this.sinks.values()].map((s) => s.attemptTimeoutMs)) + LEASE_MARGIN_MS,
    });
    for (const delivery of claimed) this.start(delivery);
    return claimed.length;
  }

  private start(delivery: ClaimedDelivery): void {
    const sink = this.sinks.get(delivery.sink) as Sink;
    const held = this.inFlight.get(delivery.target);
    if (held) held.n++;
    else this.inFlight.set(delivery.target, { sink, n: 1 });
    const run: Promise<void> = this.attempt(sink, delivery)
      .catch((err) => this.logger.error({ err, deliveryId: delivery.id }, 'delivery attempt not recorded: retried when its lease ends'))
      .finally(() => {
        const slot = this.inFlight.get(delivery.target);
        if (slot && --slot.n <= 0) this.inFlight.delete(delivery.target);
        this.running.delete(run);
        if (this.background) this.wake();
      });
    this.running.add(run);
  }

  private async attempt(sink: Sink, delivery: ClaimedDelivery): Promise<void> {
    const attemptedAt = new Date();
    const started = performance.now();
    const result: SinkResult = await sink.deliver(delivery).catch((err: Error) => ({ delivered: false, error: err.message }));
    const durationMs = Math.round(performance.now() - started);
    const retryInMs = result.delivered || result.final ? null : sink.retryDelayMs(delivery.attempt, result);
    const status = result.delivered ? 'delivered' : retryInMs === null ? 'dead' : 'failed';
    await this.recorder.record({
      deliveryId: delivery.id,
      status,
      attempt: delivery.attempt,
      attemptedAt,
      durationMs,
      statusCode: result.statusCode ?? null,
      error: result.error?.slice(0, 1000) ?? null,
      retryInMs,
    });
    this.outcomes.inc({ sink: sink.name, outcome: status });
    if (result.delivered) this.latency.observe({ sink: sink.name }, (Date.now() - delivery.eventCreatedAt.getTime()) / 1000);
    if (status === 'dead') this.logger.warn({ deliveryId: delivery.id, sink: sink.name, target: delivery.target }, 'delivery dead');
    await sink.afterAttempt?.(delivery, result);
    if (status === 'dead') await this.tellDead(sink, delivery, result);
  }

  /** Other sinks hear of a dead delivery (Slack); a failure here loses the notice, not the delivery. */
  private async tellDead(sink: Sink, delivery: ClaimedDelivery, result: SinkResult): Promise<void> {
    for (const other of this.sinks.values()) {
      if (other === sink || !other.onDeadDelivery) continue;
      await other
        .onDeadDelivery({
          id: delivery.id,
          merchantId: delivery.merchantId,
          eventId: delivery.eventId,
          eventType: delivery.eventType,
          sink: sink.name,
          target: delivery.target,
          attempts: delivery.attempt,
          lastStatusCode: result.statusCode ?? null,
          lastError: result.error ?? null,
        })
        .catch((err) => this.logger.error({ err, deliveryId: delivery.id, sink: other.name }, 'dead-delivery notice not written'));
    }
  }
}
