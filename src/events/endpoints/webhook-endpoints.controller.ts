import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../../auth/auth.decorators';
import type { AuthContext } from '../../auth/auth.types';
import { NonCritical } from '../../common/load-shedding.guard';
import { ApiErrors } from '../../common/openapi';
import { ListQueryDto, toPageRequest } from '../../common/pagination';
import { CreateWebhookEndpointDto, ResendEventDto, UpdateWebhookEndpointDto } from './dto/webhook-endpoint.dto';
import { WebhookEndpointsService } from './webhook-endpoints.service';

@ApiTags('webhook endpoints')
@ApiSecurity('api-key')
@AllowKeys('secret', 'admin')
@Controller('webhook-endpoints')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  /** Registers an endpoint; the answer carries its signing secret (`whsec_…`), shown this once. */
  @Post()
  @ApiErrors(400, 401, 403)
  create(@Caller() caller: AuthContext, @Body() body: CreateWebhookEndpointDto) {
    return this.endpoints.create(caller.merchantId, body);
  }

  @Get()
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  list(@Caller() caller: AuthContext, @Query() query: ListQueryDto) {
    return this.endpoints.list(caller.merchantId, toPageRequest(query));
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.endpoints.get(caller.merchantId, id);
  }

  @Patch(':id')
  @ApiErrors(400, 401, 403, 404)
  update(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: UpdateWebhookEndpointDto) {
    return this.endpoints.update(caller.merchantId, id, body);
  }

  @Delete(':id')
  @ApiErrors(401, 403, 404)
  remove(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.endpoints.remove(caller.merchantId, id);
  }

  /** Its deliveries, newest first, each with every attempt (time, duration, status code, error). */
  @Get(':id/deliveries')
  @NonCritical()
  @ApiErrors(400, 401, 403, 404, 503)
  deliveries(@Caller() caller: AuthContext, @Param('id') id: string, @Query() query: ListQueryDto) {
    return this.endpoints.listDeliveries(caller.merchantId, id, toPageRequest(query));
  }

  /** Sends one event to this endpoint again, now (202: queued; its delivery shows the outcome). */
  @Post(':id/resend')
  @HttpCode(202)
  @ApiErrors(400, 401, 403, 404, 422)
  resend(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: ResendEventDto) {
    return this.endpoints.resend(caller.merchantId, id, body.eventId);
  }
}
