import { Module } from '@nestjs/common';
import { CouponsModule } from '../coupons/coupons.module';
import { EventsModule } from '../events/events.module';
import { PaymentsModule } from '../payments/payments.module';
import { ProductsModule } from '../products/products.module';
import { InvoicesRepository } from './invoices.repository';
import { ProviderSubscriptionEvents } from './provider-subscription-events';
import { SubscriptionBilling } from './subscription-billing';
import { SubscriptionRenewalJob } from './subscription-renewal.job';
import { SubscriptionRenewals } from './subscription-renewals';
import { SubscriptionsController } from './subscriptions.controller';
import { SubscriptionsRepository } from './subscriptions.repository';
import { SubscriptionsService } from './subscriptions.service';
import { TestClockController } from './test-clock.controller';

/** Subscriptions above payments: bought with a payment, renewed by charging the saved method (paybridge-managed). */
@Module({
  imports: [PaymentsModule, ProductsModule, CouponsModule, EventsModule],
  controllers: [SubscriptionsController, TestClockController],
  providers: [
    SubscriptionsRepository,
    InvoicesRepository,
    SubscriptionBilling,
    SubscriptionRenewals,
    SubscriptionRenewalJob,
    SubscriptionsService,
    ProviderSubscriptionEvents,
  ],
  exports: [SubscriptionRenewals, SubscriptionsService],
})
export class SubscriptionsModule {}
