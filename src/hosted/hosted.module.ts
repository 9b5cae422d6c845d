import { Module } from '@nestjs/common';
import { PublicUrl } from '../common/public-url';
import { RateLimitRepository } from '../common/rate-limit/rate-limit.repository';
import { CouponsModule } from '../coupons/coupons.module';
import { CustomersApiModule } from '../customers/customers-api.module';
import { CustomersModule } from '../customers/customers.module';
import { GiftCardsStoreModule } from '../gift-cards/gift-cards-store.module';
import { GiftCardsModule } from '../gift-cards/gift-cards.module';
import { PaymentsModule } from '../payments/payments.module';
import { ProductsModule } from '../products/products.module';
import { SubscriptionsModule } from '../subscriptions/subscriptions.module';
import { CheckoutCapabilityGuard } from './checkout/checkout-capability.guard';
import { CheckoutPageController } from './checkout/checkout-page.controller';
import { HostedCheckoutService } from './checkout/hosted-checkout.service';
import { ConsolePageController } from './console-page.controller';
import { PortalAccountController } from './portal/portal-account.controller';
import { PortalAccountService } from './portal/portal-account.service';
import { PortalCapabilityGuard } from './portal/portal-capability.guard';
import { PortalSessionsRepository } from './portal/portal-sessions.repository';
import { PortalController } from './portal/portal.controller';
import { PortalService } from './portal/portal.service';
import { AllowedOriginsController } from './settings/allowed-origins.controller';
import { MerchantSettingsRepository } from './settings/merchant-settings.repository';

/** Paybridge's own pages: the hosted checkout (/pay), the customer portal (/portal) and the admin console (/console). */
@Module({
  imports: [
    PaymentsModule,
    CouponsModule,
    CustomersModule,
    CustomersApiModule,
    SubscriptionsModule,
    ProductsModule,
    GiftCardsModule,
    GiftCardsStoreModule,
  ],
  controllers: [CheckoutPageController, PortalController, PortalAccountController, ConsolePageController, AllowedOriginsController],
  providers: [
    HostedCheckoutService,
    CheckoutCapabilityGuard,
    PortalService,
    PortalAccountService,
    PortalCapabilityGuard,
    PortalSessionsRepository,
    MerchantSettingsRepository,
    // The portal's gift-card lookups count in the rate-limit table (stateless: its own instance is the same table).
    RateLimitRepository,
    PublicUrl,
  ],
})
export class HostedModule {}
