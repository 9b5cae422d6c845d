import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PaymentsModule } from '../payments/payments.module';
import { ProductsModule } from '../products/products.module';
import { GiftCardExpiryJob } from './gift-card-expiry.job';
import { GiftCardsStoreModule } from './gift-cards-store.module';
import { GiftCardsController } from './gift-cards.controller';
import { GiftCardsService } from './gift-cards.service';

@Module({
  imports: [PaymentsModule, ProductsModule, GiftCardsStoreModule, LedgerModule, EventsModule],
  controllers: [GiftCardsController],
  providers: [GiftCardsService, GiftCardExpiryJob],
  exports: [GiftCardsService],
})
export class GiftCardsModule {}
