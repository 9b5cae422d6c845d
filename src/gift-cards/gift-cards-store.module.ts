import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { GiftCardHolds } from './gift-card-holds';
import { GiftCardsRepository } from './gift-cards.repository';

/**
 * Gift-card balances and holds: below payments (the payment flows spend and hold cards through it) and
 * below the gift-card routes; it imports nothing from payments.
 */
@Module({ imports: [LedgerModule], providers: [GiftCardsRepository, GiftCardHolds], exports: [GiftCardsRepository, GiftCardHolds] })
export class GiftCardsStoreModule {}
