import { Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NotFoundError } from '../common/errors/domain-errors';
import { Idempotent } from '../common/idempotency/idempotency.decorator';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { toPage, toPageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import { EventsService } from '../events/events.service';
import { DeadLettersQueryDto } from './dto/dead-letters-query.dto';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookProcessor } from './webhook-processor';

/** Outgoing delivery ids (`dlv_…`) and inbound event ids (`whe_…`) never collide: replay tells them apart. */
const OUTBOUND_PREFIX = 'dlv_';

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/dead-letters')
export class DeadLettersController {
  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly processor: WebhookProcessor,
    private readonly outgoing: EventsService,
    private readonly db: DatabaseService,
  ) {}

  /**
   * The caller's merchant's dead letters: inbound webhook events that failed every attempt (default), or
   * with `direction=outbound` its outgoing deliveries (endpoints, broker, notifications) that died.
   */
  @Get()
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  async list(@Caller() caller: AuthContext, @Query() query: DeadLettersQueryDto) {
    const page = toPageRequest(query);
    if (query.direction === 'outbound') {
      const dead = await this.outgoing.listDeadDeliveries(caller.merchantId, page);
      return { ...dead, data: dead.data.map((delivery) => ({ direction: 'outbound' as const, ...delivery })) };
    }
    const rows = await this.events.listDead(caller.merchantId, page, this.db.reports);
    return toPage(
      rows.map((event) => ({ direction: 'inbound' as const, ...event })),
      page,
    );
  }

  /**
   * An inbound dead letter goes back in the queue with fresh attempts and is processed now; an outgoing
   * one (`dlv_…`) is due again now with its attempts reset, for the relay to send.
   */
  @Post(':id/replay')
  @Idempotent({ required: false, mode: 'phased' }) // the revival commits before the event is processed
  @ApiErrors(401, 403, 404)
  async replay(@Caller() caller: AuthContext, @Param('id') id: string) {
    if (id.startsWith(OUTBOUND_PREFIX)) {
      return { direction: 'outbound' as const, ...(await this.outgoing.replayDeadDelivery(caller.merchantId, id)) };
    }
    const revived = await this.events.revive(caller.merchantId, id);
    if (!revived) throw new NotFoundError('dead letter', id);
    this.processor.processSoon(id);
    return { direction: 'inbound' as const, ...revived };
  }
}
