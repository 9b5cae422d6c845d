import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { toPageRequest } from '../common/pagination';
import { ListEventsDto } from './dto/list-events.dto';
import { EventsService } from './events.service';

@ApiTags('events')
@ApiSecurity('api-key')
@AllowKeys('secret', 'admin')
@Controller('events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /** The merchant's domain events, newest first, each with its deliveries (`type`, `from`, `to` filter). */
  @Get()
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  list(@Caller() caller: AuthContext, @Query() query: ListEventsDto) {
    return this.events.list(caller.merchantId, { type: query.type, from: query.from, to: query.to }, toPageRequest(query));
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.events.get(caller.merchantId, id);
  }
}
