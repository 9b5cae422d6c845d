import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { DisputesController } from './disputes.controller';
import { DisputesService } from './disputes.service';

/**
 * Disputes' API. Their provider events are applied by DisputeEvents, which the payments module provides
 * (its webhook handler calls it, and it books through the payment's lock), with DisputesRepository.
 */
@Module({
  imports: [PaymentsModule],
  controllers: [DisputesController],
  providers: [DisputesService],
})
export class DisputesModule {}
