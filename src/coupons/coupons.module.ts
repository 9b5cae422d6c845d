import { Module } from '@nestjs/common';
import { ProductsModule } from '../products/products.module';
import { AdminCouponsController } from './admin-coupons.controller';
import { CouponsController } from './coupons.controller';
import { CouponsRepository } from './coupons.repository';
import { CouponsService } from './coupons.service';

/**
 * Coupons: admin CRUD, POST /coupons/validate, and the service checkout uses to quote, reserve, redeem
 * and release a coupon inside its own transactions (CouponsService is exported for src/payments).
 */
@Module({
  imports: [ProductsModule],
  controllers: [CouponsController, AdminCouponsController],
  providers: [CouponsRepository, CouponsService],
  exports: [CouponsService],
})
export class CouponsModule {}
