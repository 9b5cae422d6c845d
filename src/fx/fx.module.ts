import { Module } from '@nestjs/common';
import { FxController } from './fx.controller';
import { FxRepository } from './fx.repository';
import { FxService } from './fx.service';

/** Stored conversion rates and the conversion of carts through them (used by payments' pricing). */
@Module({
  controllers: [FxController],
  providers: [FxRepository, FxService],
  exports: [FxService],
})
export class FxModule {}
