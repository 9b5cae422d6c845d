import { Module } from '@nestjs/common';
import { PublicUrl } from '../common/public-url';
import { RateLimitRepository } from '../common/rate-limit/rate-limit.repository';
import { CouponsModule } from '../coupons/coupons.module';
import { CustomersModule } from '../customers/customers.module';
import { GiftCardsStoreModule } from '../gift-cards/gift-cards-store.module';
import { GiftCardsModule } from '../gift-cards/gift-cards.module';
import { PaymentsModule } from '../payments/payments.module';
import { CheckoutCapabilityGuard } from './checkout/checkout-capability.guard';
import { CheckoutPageController } from './checkout/checkout-page.controller';
import { HostedCheckoutService } from './checkout/hosted-checkout.service';
import { ConsolePageController } from './console-page.controller';
import { PortalSessionsRepository } from './portal/portal-sessions.repository';
import { PortalController } from './portal/portal.controller';
import { PortalService } from './portal/portal.service';
import { AllowedOriginsController } from './settings/allowed-origins.controller';
import { MerchantSettingsRepository } from './settings/merchant-settings.repository';

/** Paybridge's own pages: the hosted checkout (/pay), the customer portal (/portal) and the admin console (/console). */
@Module({
  imports: [PaymentsModule, CouponsModule, CustomersModule, GiftCardsModule, GiftCardsStoreModule],
  controllers: [CheckoutPageController, PortalController, ConsolePageController, AllowedOriginsController],
  providers: [
    HostedCheckoutService,
    CheckoutCapabilityGuard,
    PortalService,
    PortalSessionsRepository,
    MerchantSettingsRepository,
    // The portal's gift-card lookups count in the rate-limit table (stateless: its own instance is the same table).
    RateLimitRepository,
    PublicUrl,
  ],
})
export class HostedModule {}
