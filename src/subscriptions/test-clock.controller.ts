import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { BillingClock } from '../common/clock/billing-clock';
import { Idempotent } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { AdvanceTestClockDto } from './dto/subscriptions.dto';
import { SubscriptionRenewals } from './subscription-renewals';

/** The test clock (TEST_CLOCK_ENABLED=true only; 404 otherwise): the caller's merchant's billing time. */
@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/test-clock')
export class TestClockController {
  constructor(
    private readonly clock: BillingClock,
    private readonly renewals: SubscriptionRenewals,
  ) {}

  @Get()
  @ApiErrors(401, 403, 404)
  async get(@Caller() caller: AuthContext) {
    this.clock.assertTestClock();
    return { now: await this.clock.now(caller.merchantId) };
  }

  /**
   * Moves the merchant's billing time forward by `days` and `seconds`, then runs every renewal, retry,
   * grace end and end of a canceled period that became due, before answering.
   */
  @Post('advance')
  @HttpCode(200)
  @Idempotent({ required: false, mode: 'phased' }) // the renewals charge providers: their phases commit on their own
  @ApiErrors(400, 401, 403, 404)
  async advance(@Caller() caller: AuthContext, @Body() body: AdvanceTestClockDto) {
    this.clock.assertTestClock();
    const now = await this.clock.advance(caller.merchantId, (body.days ?? 0) * 86_400 + (body.seconds ?? 0));
    const ran = await this.renewals.runDue(caller.merchantId);
    return { now, ran };
  }
}
