import { Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NotFoundError } from '../common/errors/domain-errors';
import { Idempotent } from '../common/idempotency/idempotency.decorator';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { ListQueryDto, toPage, toPageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookProcessor } from './webhook-processor';

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/dead-letters')
export class DeadLettersController {
  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly processor: WebhookProcessor,
    private readonly db: DatabaseService,
  ) {}

  /** Webhook events of the caller's merchant that failed every attempt. */
  @Get()
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  async list(@Caller() caller: AuthContext, @Query() query: ListQueryDto) {
    const page = toPageRequest(query);
    return toPage(await this.events.listDead(caller.merchantId, page, this.db.reports), page);
  }

  /** Puts a dead letter back in the queue with fresh attempts and processes it now. */
  @Post(':id/replay')
  @Idempotent({ required: false, mode: 'phased' }) // the revival commits before the event is processed
  @ApiErrors(401, 403, 404)
  async replay(@Caller() caller: AuthContext, @Param('id') id: string) {
    const revived = await this.events.revive(caller.merchantId, id);
    if (!revived) throw new NotFoundError('dead letter', id);
    this.processor.processSoon(id);
    return revived;
  }
}
