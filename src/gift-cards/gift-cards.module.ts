import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { ProductsModule } from '../products/products.module';
import { GiftCardExpiryJob } from './gift-card-expiry.job';
import { GiftCardsController } from './gift-cards.controller';
import { GiftCardsService } from './gift-cards.service';

@Module({
  imports: [PaymentsModule, ProductsModule],
  controllers: [GiftCardsController],
  providers: [GiftCardsService, GiftCardExpiryJob],
  exports: [GiftCardsService],
})
export class GiftCardsModule {}
