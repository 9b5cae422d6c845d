import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { ApiErrors } from '../common/openapi';
import { RateLimit } from '../common/rate-limit/rate-limit.decorator';
import { COUPON_GUESSING_BUCKET } from './coupon-guessing';
import { CouponsService } from './coupons.service';
import { ValidateCouponDto } from './dto/validate-coupon.dto';

@ApiTags('coupons')
@ApiSecurity('api-key')
@AllowKeys('publishable', 'secret')
@Controller('coupons')
export class CouponsController {
  constructor(private readonly coupons: CouponsService) {}

  /**
   * The discount a coupon gives a cart priced from the catalog, per line and in total, or 422
   * coupon_not_found | coupon_expired | coupon_exhausted | coupon_not_applicable. Reserves nothing.
   * Its own, stricter rate limit per API key and client address, so that codes cannot be guessed at scale;
   * checkout and process count unknown codes in the same bucket (CouponGuessingLimit).
   */
  @Post('validate')
  @HttpCode(200)
  @RateLimit({
    bucket: COUPON_GUESSING_BUCKET,
    perMinute: (config) => config.get('COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE', { infer: true }),
  })
  @ApiErrors(400, 401, 403, 422, 429)
  validate(@Caller() caller: AuthContext, @Body() body: ValidateCouponDto) {
    return this.coupons.validate(caller.merchantId, body);
  }
}
