import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Env } from '../../config/env';
import type { ClaimedDelivery } from '../relay/deliveries.types';
import { exponentialDelay } from '../relay/retry-schedule';
import type { Sink, SinkResult } from '../relay/sink';

const CONNECT_TIMEOUT_MS = 5_000;
const CONFIRM_TIMEOUT_MS = 10_000;
// A connection that died without a word (no FIN, no error: a network partition) is noticed within two
// missed heartbeats, unless AMQP_URL names its own.
const HEARTBEAT_SECONDS = 15;

/**
 * RabbitMQ: every event to the durable topic exchange (AMQP_EXCHANGE, `payments`) with the event type as
 * routing key, persistent, on a confirm channel: a delivery is done only when the broker confirmed it.
 * The connection is opened on first use and again after it is lost (a broker restart): the attempts in
 * flight then fail and are retried, and since the relay never sends an aggregate's next event before the
 * previous one is confirmed, nothing is lost or reordered (a retry after a lost confirm may publish twice:
 * consumers deduplicate by messageId, the event id).
 */
@Injectable()
export class AmqpSink implements Sink, OnApplicationShutdown {
  readonly name = 'amqp';
  readonly global = true;
  readonly enabled: boolean;
  readonly perTarget: number;
  readonly attemptTimeoutMs = CONNECT_TIMEOUT_MS + CONFIRM_TIMEOUT_MS;
  private readonly logger = new Logger(AmqpSink.name);
  private readonly url?: string;
  private readonly exchange: string;
  private connection: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private connecting: Promise<ConfirmChannel> | null = null;
  private closing = false;

  constructor(config: ConfigService<Env, true>) {
    this.url = config.get('AMQP_URL', { infer: true });
    this.enabled = Boolean(this.url);
    this.exchange = config.get('AMQP_EXCHANGE', { infer: true });
    // One channel carries every publish: up to the relay's whole share in flight awaiting confirms.
    this.perTarget = config.get('EVENT_RELAY_CONCURRENCY', { infer: true });
  }

  async deliver(delivery: ClaimedDelivery): Promise<SinkResult> {
    try {
      const channel = await this.open();
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          channel.publish(
            this.exchange,
            delivery.eventType,
            Buffer.from(JSON.stringify(delivery.event)),
            {
              persistent: true,
              contentType: 'application/json',
              messageId: delivery.eventId,
              type: delivery.eventType,
              timestamp: Math.floor(delivery.eventCreatedAt.getTime() / 1000),
              appId: 'paybridge',
              headers: { 'merchant-id': delivery.merchantId },
            },
            (err) => (err ? reject(err instanceof Error ? err : new Error('nacked by the broker')) : resolve()),
          );
        }),
        CONFIRM_TIMEOUT_MS,
        'no confirm from the broker',
      );
      return { delivered: true };
    } catch (err) {
      // No confirm in time: the connection may be dead without having said so. Opened afresh next time.
      if ((err as Error).message === 'no confirm from the broker') this.drop();
      return { delivered: false, error: (err as Error).message };
    }
  }

  /** 1 s, 2 s, 4 s … up to a minute, without end: the broker being down is our outage, not a bad message. */
  retryDelayMs(attempt: number): number {
    return exponentialDelay(attempt, 1_000, 60_000);
  }

  /**
   * For /health: null when no broker is configured; otherwise whether it answers now (the connection is
   * opened when there is none, within a second).
   */
  async health(): Promise<{ status: 'up' | 'down'; message?: string } | null> {
    if (!this.enabled) return null;
    try {
      await withTimeout(this.open(), 1_000, 'the broker did not answer within 1 s');
      return { status: 'up' };
    } catch (err) {
      return { status: 'down', message: (err as Error).message };
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.connection?.close().catch(() => undefined);
  }

  private drop(): void {
    const connection = this.connection;
    this.connection = null;
    this.channel = null;
    connection?.close().catch(() => undefined);
  }

  private open(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    if (this.closing) return Promise.reject(new Error('shutting down'));
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<ConfirmChannel> {
    const url = new URL(this.url as string);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(HEARTBEAT_SECONDS));
    const connection = await connect(url.toString(), {
      timeout: CONNECT_TIMEOUT_MS,
      // Names the connection in the broker's management tools.
      clientProperties: { connection_name: `paybridge events (${this.exchange})` },
    });
    connection.on('error', (err) => this.logger.warn({ err: { message: err.message } }, 'broker connection error'));
    connection.on('close', () => {
      if (this.connection !== connection) return;
      this.connection = null;
      this.channel = null;
      if (!this.closing) this.logger.warn('broker connection closed: reconnecting on the next delivery');
    });
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', (err) => this.logger.warn({ err: { message: err.message } }, 'broker channel error'));
      channel.on('close', () => {
        if (this.channel === channel) this.channel = null;
      });
      await channel.assertExchange(this.exchange, 'topic', { durable: true });
      this.connection = connection;
      this.channel = channel;
      return channel;
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw err;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
