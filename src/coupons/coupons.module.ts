import { Module } from '@nestjs/common';
import { RateLimitRepository } from '../common/rate-limit/rate-limit.repository';
import { FxModule } from '../fx/fx.module';
import { ProductsModule } from '../products/products.module';
import { AdminCouponsController } from './admin-coupons.controller';
import { CouponsAdminService } from './coupons-admin.service';
import { CouponGuessingLimit } from './coupon-guessing';
import { CouponsController } from './coupons.controller';
import { CouponsRepository } from './coupons.repository';
import { CouponsService } from './coupons.service';

/**
 * Coupons: admin CRUD (CouponsAdminService), POST /coupons/validate, and the service checkout uses to quote, reserve, redeem
 * and release a coupon inside its own transactions (CouponsService is exported for src/payments), and
 * the guessing limit every route that takes a coupon code applies (CouponGuessingLimit).
 */
@Module({
  imports: [ProductsModule, FxModule],
  controllers: [CouponsController, AdminCouponsController],
  // RateLimitRepository: the guessing limit's counters (stateless, so its own instance is the same table).
  providers: [CouponsRepository, CouponsService, CouponsAdminService, RateLimitRepository, CouponGuessingLimit],
  exports: [CouponsService, CouponGuessingLimit],
})
export class CouponsModule {}
