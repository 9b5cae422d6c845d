import { Module, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { OutboxRepository } from './outbox.repository';

/** The transactional outbox. Delivery to sinks comes with the notifications work. */
@Module({ providers: [OutboxRepository], exports: [OutboxRepository] })
export class EventsModule implements OnModuleInit {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const outbox = this.outbox;
    new Gauge({
      name: 'outbox_unpublished_events',
      help: 'Domain events written but not yet delivered (the outbox backlog)',
      registers: [this.metrics.registry],
      async collect() {
        // A scrape must not fail when the database is busy: keep the last value.
        const backlog = await outbox.countUnpublished().catch(() => null);
        if (backlog !== null) this.set(backlog);
      },
    });
  }
}
