import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { Idempotency, Idempotent, type IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { toPageRequest } from '../common/pagination';
import { CancelSubscriptionDto, ChangeSubscriptionDto, ListSubscriptionsDto, SubscriptionPaymentMethodDto } from './dto/subscriptions.dto';
import { SubscriptionsService } from './subscriptions.service';

/** A merchant's subscriptions (secret key): bought through POST /payments/process, read and changed here. */
@ApiTags('subscriptions')
@ApiSecurity('api-key')
@AllowKeys('secret')
@Controller('subscriptions')
export class SubscriptionsController {
  constructor(private readonly subscriptions: SubscriptionsService) {}

  @Get()
  @ApiErrors(400, 401, 403)
  list(@Caller() caller: AuthContext, @Query() query: ListSubscriptionsDto) {
    return this.subscriptions.list(caller.merchantId, { customerEmail: query.customerEmail, status: query.status }, toPageRequest(query));
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.subscriptions.get(caller.merchantId, id);
  }

  @Get(':id/invoices')
  @ApiErrors(401, 403, 404)
  invoices(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.subscriptions.invoicesOf(caller.merchantId, id);
  }

  /** `{atPeriodEnd?}` (default true): ends at the period end, or now. */
  @Post(':id/cancel')
  @HttpCode(200)
  @Idempotent({ required: false })
  @ApiErrors(400, 401, 403, 404, 422)
  cancel(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: CancelSubscriptionDto) {
    return this.subscriptions.cancel(caller.merchantId, id, body.atPeriodEnd ?? true);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Idempotent({ required: false })
  @ApiErrors(401, 403, 404, 422)
  resume(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.subscriptions.resume(caller.merchantId, id);
  }

  /** `{productId}`: an upgrade is charged now (prorated to the second), a downgrade waits for the period end. */
  @Post(':id/change')
  @HttpCode(200)
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 402, 403, 404, 409, 422, 503)
  change(
    @Caller() caller: AuthContext,
    @Param('id') id: string,
    @Body() body: ChangeSubscriptionDto,
    @Idempotency() idem: IdempotencyContext,
  ) {
    return this.subscriptions.change(caller.merchantId, id, body.productId, idem);
  }

  @Post(':id/payment-method')
  @HttpCode(200)
  @Idempotent({ required: false })
  @ApiErrors(400, 401, 403, 404, 422)
  paymentMethod(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: SubscriptionPaymentMethodDto) {
    return this.subscriptions.setPaymentMethod(caller.merchantId, id, body.paymentMethodId);
  }
}
