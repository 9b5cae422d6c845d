import { Body, Controller, Get, HttpCode, Ip, Param, Post } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { Idempotency, Idempotent, type IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { CouponGuessingLimit } from '../coupons/coupon-guessing';
import type { CheckoutSession } from './checkout/checkout-sessions.types';
import { CheckoutService } from './checkout/checkout.service';
import { CreateCheckoutDto, ProcessPaymentDto, VerifyPricesDto } from './dto/checkout.dto';
import { ChargesService } from './charges/charges.service';
import { PricingService } from './pricing.service';

@ApiTags('payments')
@ApiSecurity('api-key')
@AllowKeys('publishable', 'secret')
@Controller('payments')
export class PaymentsController {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly charges: ChargesService,
    private readonly pricing: PricingService,
    private readonly couponGuessing: CouponGuessingLimit,
  ) {}

  /** Creates a hosted checkout session; the customer pays on `url`. Completion arrives by verified webhook. */
  @Post('checkout')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 403, 409, 422, 429, 503)
  createCheckout(
    @Caller() caller: AuthContext,
    @Body() body: CreateCheckoutDto,
    @Idempotency() idem: IdempotencyContext,
    @Ip() ip: string,
  ) {
    // Unknown coupon codes count against the guessing limit of /coupons/validate.
    return this.couponGuessing.check(
      caller,
      ip,
      body.couponCode,
      () => this.checkout.create(caller, body, idem, ip ?? null) as Promise<CheckoutSession>,
    );
  }

  @Get('checkout/:sessionId')
  @ApiErrors(401, 403, 404)
  getCheckout(@Caller() caller: AuthContext, @Param('sessionId') sessionId: string) {
    return this.checkout.get(caller.merchantId, sessionId);
  }

  /** Cancels an open session and closes it at its provider (outside any transaction: phased). */
  @Post('checkout/:sessionId/cancel')
  @HttpCode(200)
  @Idempotent({ required: false, mode: 'phased' })
  @ApiErrors(401, 403, 404, 422)
  cancelCheckout(@Caller() caller: AuthContext, @Param('sessionId') sessionId: string) {
    return this.checkout.cancel(caller.merchantId, sessionId);
  }

  /**
   * Charges a provider payment-method token synchronously: 201 with the payment (succeeded, or
   * requires_action with nextAction.url), 402 on a decline, 503 when no provider could take it.
   */
  @Post('process')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 402, 403, 409, 422, 429, 503)
  process(@Caller() caller: AuthContext, @Body() body: ProcessPaymentDto, @Idempotency() idem: IdempotencyContext, @Ip() ip: string) {
    return this.couponGuessing.check(caller, ip, body.couponCode, () => this.charges.process(caller, body, idem, ip ?? null));
  }

  /** Checks the prices a client shows against the catalog. */
  @Post('verify-prices')
  @HttpCode(200)
  @ApiErrors(400, 401, 403)
  verifyPrices(@Caller() caller: AuthContext, @Body() body: VerifyPricesDto) {
    return this.pricing.verify(caller.merchantId, body.products);
  }
}
