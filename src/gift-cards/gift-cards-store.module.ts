import { Global, Module } from '@nestjs/common';
import { GiftCardHolds } from './gift-card-holds';
import { GiftCardsRepository } from './gift-cards.repository';

/** The gift-card table itself, shared by the gift-card routes and the payment flows that spend cards. */
@Global()
@Module({ providers: [GiftCardsRepository, GiftCardHolds], exports: [GiftCardsRepository, GiftCardHolds] })
export class GiftCardsStoreModule {}
