import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../../auth/auth.decorators';
import { Idempotency, Idempotent, type IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../../common/openapi';
import { SavePaymentMethodDto } from '../../customers/dto/customers.dto';
import { ChangeSubscriptionDto } from '../../subscriptions/dto/subscriptions.dto';
import { PortalAccountService } from './portal-account.service';
import { PortalCapabilityGuard } from './portal-capability.guard';
import type { PortalSession } from './portal-sessions.repository';

const session = (req: FastifyRequest) => req.portalSession as PortalSession;

/**
 * The portal's subscriptions and saved payment methods (no API key: the portal token is the capability).
 * Each route calls the service the sk route calls, for this portal's customer only.
 */
@ApiTags('portal')
@Public()
@UseGuards(PortalCapabilityGuard)
@Controller('portal/:token')
export class PortalAccountController {
  constructor(private readonly account: PortalAccountService) {}

  /** The customer's subscriptions, each with the plans it may change to. */
  @Get('subscriptions')
  @ApiErrors(404)
  subscriptions(@Req() req: FastifyRequest) {
    return this.account.listSubscriptions(session(req));
  }

  /** Cancel at period end (as `POST /subscriptions/:id/cancel` with the default `atPeriodEnd`). */
  @Post('subscriptions/:id/cancel')
  @HttpCode(200)
  @Idempotent({ required: false })
  @ApiErrors(404, 422)
  cancel(@Req() req: FastifyRequest, @Param('id') id: string) {
    return this.account.cancel(session(req), id);
  }

  @Post('subscriptions/:id/resume')
  @HttpCode(200)
  @Idempotent({ required: false })
  @ApiErrors(404, 422)
  resume(@Req() req: FastifyRequest, @Param('id') id: string) {
    return this.account.resume(session(req), id);
  }

  /** `{productId}`: an upgrade is charged now on the saved method (prorated), a downgrade waits for the period end. */
  @Post('subscriptions/:id/change')
  @HttpCode(200)
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 402, 404, 409, 422, 503)
  change(
    @Req() req: FastifyRequest,
    @Param('id') id: string,
    @Body() body: ChangeSubscriptionDto,
    @Idempotency() idem: IdempotencyContext,
  ) {
    return this.account.change(session(req), id, body.productId, idem);
  }

  /** The customer's saved methods, and the providers whose token this page can make (`addWith`). */
  @Get('payment-methods')
  @ApiErrors(404)
  methods(@Req() req: FastifyRequest) {
    return this.account.listMethods(session(req));
  }

  @Post('payment-methods')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 402, 404, 409, 422, 503)
  addMethod(@Req() req: FastifyRequest, @Body() body: SavePaymentMethodDto, @Idempotency() idem: IdempotencyContext) {
    return this.account.addMethod(session(req), body.provider, body.token, idem);
  }

  @Delete('payment-methods/:pmId')
  @ApiErrors(404, 422, 503)
  removeMethod(@Req() req: FastifyRequest, @Param('pmId') pmId: string) {
    return this.account.removeMethod(session(req), pmId);
  }
}
