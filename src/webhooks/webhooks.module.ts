import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { PaymentsModule } from '../payments/payments.module';
import { DeadLettersController } from './dead-letters.controller';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookProcessor } from './webhook-processor';
import { WebhooksController } from './webhooks.controller';

@Module({
  imports: [PaymentsModule, EventsModule],
  controllers: [WebhooksController, DeadLettersController],
  providers: [WebhookEventsRepository, WebhookProcessor],
})
export class WebhooksModule {}
