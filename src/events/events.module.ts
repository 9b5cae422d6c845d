import { Global, Module } from '@nestjs/common';
import { OutboxRepository } from './outbox.repository';

/** The transactional outbox. Delivery to sinks comes with the notifications work. */
@Global()
@Module({ providers: [OutboxRepository], exports: [OutboxRepository] })
export class EventsModule {}
