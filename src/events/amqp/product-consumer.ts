import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { Env } from '../../config/env';
import { NotFoundError } from '../../common/errors/domain-errors';
import { ProductsService } from '../../products/products.service';
import { exponentialDelay } from '../relay/retry-schedule';
import { parseProductMessage, PRODUCT_ROUTING_KEYS } from './product-messages';

// A few messages in flight: each is one short transaction, and a slow database should not pile up more.
const PREFETCH = 10;
// A message that failed for a reason of ours (database down) goes back to the queue after this pause,
// so a broken database does not turn into a hot redelivery loop.
const REQUEUE_PAUSE_MS = 1_000;

/**
 * Consumes the merchant's product messages (seed 002) from AMQP_CONSUME_EXCHANGE: a durable queue of ours
 * (AMQP_CONSUME_QUEUE) bound to `merchant.product.published` (activates the product) and
 * `merchant.product.out_of_stock` (deactivates it). The change goes through ProductsService.update, the
 * admin PATCH's rule (an archived product cannot be changed; every instance's catalog cache is dropped),
 * and the message is acked only after it committed. A malformed message or an unknown product is
 * rejected without requeue and logged; a failure of ours (database) requeues it.
 * Reconnects after the broker goes away, forever, with backoff.
 */
@Injectable()
export class ProductConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ProductConsumer.name);
  private readonly url?: string;
  private readonly exchange?: string;
  private readonly queue: string;
  private connection: ChannelModel | null = null;
  private closing = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    config: ConfigService<Env, true>,
    private readonly products: ProductsService,
  ) {
    this.url = config.get('AMQP_URL', { infer: true });
    this.exchange = config.get('AMQP_CONSUME_EXCHANGE', { infer: true });
    this.queue = config.get('AMQP_CONSUME_QUEUE', { infer: true });
  }

  get enabled(): boolean {
    return Boolean(this.url && this.exchange);
  }

  onApplicationBootstrap(): void {
    if (this.exchange && !this.url) this.logger.warn('AMQP_CONSUME_EXCHANGE is set without AMQP_URL: not consuming');
    // Never blocks startup: a broker that is down is retried in the background.
    if (this.enabled) void this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connection?.close().catch(() => undefined);
  }

  private async start(): Promise<void> {
    if (this.closing) return;
    try {
      const connection = await connect(this.url as string, {
        timeout: 5_000,
        clientProperties: { connection_name: `paybridge product consumer (${this.exchange})` },
      });
      connection.on('error', (err) => this.logger.warn({ err: { message: err.message } }, 'consumer connection error'));
      connection.on('close', () => {
        if (this.connection === connection) this.connection = null;
        this.scheduleRestart();
      });
      this.connection = connection;
      const channel = await connection.createChannel();
      channel.on('error', (err) => this.logger.warn({ err: { message: err.message } }, 'consumer channel error'));
      // A channel the broker closed (a queue deleted, a precondition failed) would stop consuming silently:
      // the connection goes with it, and its close handler starts afresh.
      channel.on('close', () => {
        if (!this.closing && this.connection === connection) void connection.close().catch(() => undefined);
      });
      await channel.assertExchange(this.exchange as string, 'topic', { durable: true });
      await channel.assertQueue(this.queue, { durable: true });
      for (const key of PRODUCT_ROUTING_KEYS) await channel.bindQueue(this.queue, this.exchange as string, key);
      await channel.prefetch(PREFETCH);
      await channel.consume(this.queue, (message) => message && void this.handle(channel, message));
      this.failures = 0;
      this.logger.log({ exchange: this.exchange, queue: this.queue }, 'consuming product messages');
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, 'product consumer could not start');
      const connection = this.connection;
      this.connection = null;
      if (connection)
        await connection.close().catch(() => undefined); // its close handler reschedules
      else this.scheduleRestart();
    }
  }

  private scheduleRestart(): void {
    if (this.closing || this.retryTimer) return;
    this.failures++;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        void this.start();
      },
      exponentialDelay(this.failures, 1_000, 30_000),
    );
    this.retryTimer.unref();
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    const parsed = parseProductMessage(message.fields.routingKey, message.content);
    if (typeof parsed === 'string') return this.reject(channel, message, parsed);
    try {
      await this.products.update(parsed.merchantId, parsed.productId, { active: parsed.action === 'merchant.product.published' });
      this.logger.log({ ...parsed }, 'product message applied');
      safely(() => channel.ack(message));
    } catch (err) {
      if (err instanceof NotFoundError) return this.reject(channel, message, `unknown product ${parsed.merchantId}/${parsed.productId}`);
      this.logger.warn({ err: { message: (err as Error).message }, ...parsed }, 'product message failed: requeued');
      await new Promise((resolve) => setTimeout(resolve, REQUEUE_PAUSE_MS));
      safely(() => channel.nack(message, false, true));
    }
  }

  private reject(channel: Channel, message: ConsumeMessage, reason: string): void {
    this.logger.warn(
      { routingKey: message.fields.routingKey, messageId: message.properties.messageId, reason },
      'product message rejected (not requeued)',
    );
    safely(() => channel.nack(message, false, false));
  }
}

/** An ack on a channel that closed meanwhile throws: the broker redelivers that message, nothing to do. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* the channel is gone; the broker requeues what was unacked */
  }
}
