import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../common/errors/domain-errors';
import { paginate, type Page, type PageRequest } from '../common/pagination';
import type { DomainEvent } from './events.types';
import { OutboxRepository, type EventListFilter } from './outbox.repository';
import { DeadDeliveriesRepository } from './relay/dead-deliveries.repository';
import { DeliveriesRepository } from './relay/deliveries.repository';
import type { Delivery } from './relay/deliveries.types';

/** An event as GET /events shows it: what was written, and where it went. */
export type EventWithDeliveries = DomainEvent & { deliveries: Delivery[] };

@Injectable()
export class EventsService {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly deliveries: DeliveriesRepository,
    private readonly dead: DeadDeliveriesRepository,
  ) {}

  async list(merchantId: string, filter: EventListFilter, page: PageRequest): Promise<Page<EventWithDeliveries>> {
    const events = await paginate(
      page,
      () => this.outbox.list(merchantId, filter, page),
      () => this.outbox.count(merchantId, filter),
    );
    // Deliveries of the page's events in one statement, not one per event.
    const deliveries = await this.deliveries.listForEvents(
      merchantId,
      events.data.map((e) => e.id),
    );
    return { ...events, data: events.data.map((event) => ({ ...event, deliveries: deliveries.filter((d) => d.eventId === event.id) })) };
  }

  /** Outgoing deliveries of the merchant's that failed every attempt (the admin dead-letter routes). */
  listDeadDeliveries(merchantId: string, page: PageRequest): Promise<Page<Delivery>> {
    return paginate(
      page,
      () => this.dead.listDead(merchantId, page),
      () => this.dead.countDead(merchantId),
    );
  }

  /** A dead delivery goes back to the relay: due now, its attempts reset. */
  async replayDeadDelivery(merchantId: string, id: string): Promise<Delivery> {
    const revived = await this.dead.reviveDead(merchantId, id);
    if (!revived) throw new NotFoundError('dead letter', id);
    return revived;
  }

  async get(merchantId: string, id: string): Promise<EventWithDeliveries> {
    const event = await this.outbox.findById(merchantId, id);
    if (!event) throw new NotFoundError('event', id);
    return { ...event, deliveries: await this.deliveries.listForEvents(merchantId, [id]) };
  }
}
