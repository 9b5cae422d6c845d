import { Module, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { ProductsModule } from '../products/products.module';
import { AmqpSink } from './amqp/amqp.sink';
import { ProductConsumer } from './amqp/product-consumer';
import { WebhookEndpointSink } from './endpoints/webhook-endpoint.sink';
import { WebhookEndpointsController } from './endpoints/webhook-endpoints.controller';
import { WebhookEndpointsRepository } from './endpoints/webhook-endpoints.repository';
import { WebhookEndpointsService } from './endpoints/webhook-endpoints.service';
import { EventsController } from './events.controller';
import { EventsService } from './events.service';
import { DiscordDigestJob } from './notify/discord-digest.job';
import { DiscordSink } from './notify/discord.sink';
import { EmailSink } from './notify/email.sink';
import { MetaSink } from './notify/meta.sink';
import { NotificationsRepository } from './notify/notifications.repository';
import { SlackSink } from './notify/slack.sink';
import { OutboxRepository } from './outbox.repository';
import { DeadDeliveriesRepository } from './relay/dead-deliveries.repository';
import { DeliveriesRepository } from './relay/deliveries.repository';
import { OutboxRelay } from './relay/outbox-relay';
import { EVENT_SINKS, type Sink } from './relay/sink';

/**
 * Outgoing events: the transactional outbox (written by every domain in its own transactions), the relay
 * that delivers it, and its sinks (merchant webhook endpoints, RabbitMQ; Discord, Slack, Meta, email: notify/).
 */
@Module({
  imports: [ProductsModule],
  controllers: [EventsController, WebhookEndpointsController],
  providers: [
    OutboxRepository,
    DeliveriesRepository,
    DeadDeliveriesRepository,
    EventsService,
    WebhookEndpointsRepository,
    WebhookEndpointsService,
    WebhookEndpointSink,
    AmqpSink,
    NotificationsRepository,
    DiscordSink,
    SlackSink,
    MetaSink,
    EmailSink,
    DiscordDigestJob,
    {
      provide: EVENT_SINKS,
      useFactory: (...sinks: Sink[]): Sink[] => sinks,
      inject: [WebhookEndpointSink, AmqpSink, DiscordSink, SlackSink, MetaSink, EmailSink],
    },
    OutboxRelay,
    ProductConsumer,
  ],
  exports: [OutboxRepository, AmqpSink, EventsService],
})
export class EventsModule implements OnModuleInit {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const outbox = this.outbox;
    new Gauge({
      name: 'outbox_unpublished_events',
      help: 'Domain events written but not yet fanned out to their sinks by the relay',
      registers: [this.metrics.registry],
      async collect() {
        // A scrape must not fail when the database is busy: keep the last value.
        const backlog = await outbox.countUnpublished().catch(() => null);
        if (backlog !== null) this.set(backlog);
      },
    });
  }
}
