import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { PaymentsModule } from '../payments/payments.module';
import { ReconciliationHealing } from './reconciliation-healing';
import { ReconciliationController } from './reconciliation.controller';
import { ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationService } from './reconciliation.service';

/** Reconciliation against the providers: runs, discrepancies, the nightly job (README, "Reconciliation"). */
@Module({
  imports: [PaymentsModule, EventsModule],
  controllers: [ReconciliationController],
  providers: [ReconciliationService, ReconciliationRepository, ReconciliationHealing],
})
export class ReconciliationModule {}
