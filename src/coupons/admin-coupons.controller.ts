import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { toPageRequest } from '../common/pagination';
import { CouponsAdminService } from './coupons-admin.service';
import { AdminListCouponsDto, CreateCouponDto, UpdateCouponDto } from './dto/coupon.dto';

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/coupons')
export class AdminCouponsController {
  constructor(private readonly coupons: CouponsAdminService) {}

  /** Every coupon, newest first; `active` filters. Shed first when the pool is busy. */
  @Get()
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  list(@Caller() caller: AuthContext, @Query() query: AdminListCouponsDto) {
    return this.coupons.list(caller.merchantId, { active: query.active }, toPageRequest(query));
  }

  /** The code is case-insensitive. */
  @Get(':code')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('code') code: string) {
    return this.coupons.getByCode(caller.merchantId, code);
  }

  /** Creates a coupon (idempotent with an Idempotency-Key); 409 when the code exists, whatever its case. */
  @Post()
  @ApiErrors(400, 401, 403, 409, 422)
  create(@Caller() caller: AuthContext, @Body() body: CreateCouponDto) {
    return this.coupons.create(caller.merchantId, body);
  }

  /** Changes any subset of fields except the code; null clears an optional limit or date. */
  @Patch(':code')
  @ApiErrors(400, 401, 403, 404)
  update(@Caller() caller: AuthContext, @Param('code') code: string, @Body() body: UpdateCouponDto) {
    return this.coupons.update(caller.merchantId, code, body);
  }

  /** Deactivates the coupon: it stops validating at once, its code stays taken, its history stays. */
  @Delete(':code')
  @ApiErrors(401, 403, 404)
  deactivate(@Caller() caller: AuthContext, @Param('code') code: string) {
    return this.coupons.deactivate(caller.merchantId, code);
  }
}
