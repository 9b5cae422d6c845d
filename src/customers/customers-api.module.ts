import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { CustomersController } from './customers.controller';
import { CustomersModule } from './customers.module';
import { CustomersService } from './customers.service';

/** The customers API, above payments (saving a method goes to its provider); the store (CustomersModule) sits below. */
@Module({
  imports: [CustomersModule, PaymentsModule],
  controllers: [CustomersController],
  providers: [CustomersService],
  exports: [CustomersService],
})
export class CustomersApiModule {}
