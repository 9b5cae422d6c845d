import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../common/errors/domain-errors';
import type { Executor } from '../database/database.types';
import { LedgerService } from '../ledger/ledger.service';
import { ACCOUNTS } from '../ledger/ledger.types';
import { normalizeCode } from './gift-card-code';
import { GiftCardsRepository } from './gift-cards.repository';
import { isSpendable } from './gift-cards.types';

/**
 * A gift card paying (part of) a payment. The card part is taken from the card when the payment is
 * recorded (held: `gift_card_liability` → `gift_card_held`), becomes a sale when the payment succeeds
 * (in the charge posting), and goes back to the card if it fails or its checkout expires.
 */
@Injectable()
export class GiftCardHolds {
  constructor(
    private readonly cards: GiftCardsRepository,
    private readonly ledger: LedgerService,
  ) {}

  /** How much of `total` the card can pay now (its whole balance at most); 422 when it cannot pay. */
  async quote(merchantId: string, rawCode: string, total: number, currency: string): Promise<{ code: string; amount: number }> {
    const code = normalizeCode(rawCode);
    const card = code ? await this.cards.findByCode(merchantId, code) : null;
    if (!card) throw new NotFoundError('gift card', rawCode);
    if (!isSpendable(card)) {
      throw new DomainError(
        'unprocessable',
        'gift_card_not_active',
        `The gift card is ${card.status === 'active' ? 'expired' : card.status}.`,
        { param: 'giftCardCode' },
      );
    }
    if (card.currency !== currency)
      throw new DomainError('unprocessable', 'currency_mismatch', `The gift card is in ${card.currency}.`, { param: 'giftCardCode' });
    if (card.balance === 0)
      throw new DomainError('unprocessable', 'insufficient_balance', 'The gift card is empty.', { param: 'giftCardCode' });
    return { code: card.code, amount: Math.min(card.balance, total) };
  }

  async hold(tx: Executor, merchantId: string, code: string, amount: number, currency: string, reference: string): Promise<void> {
    if (!(await this.cards.debit(merchantId, code, amount, currency, reference, tx))) {
      throw new DomainError('conflict', 'gift_card_balance_changed', 'The gift card balance changed meanwhile; retry.', {
        param: 'giftCardCode',
      });
    }
    await this.ledger.transfer(tx, {
      merchantId,
      postingId: `gift_card_hold:${reference}`,
      kind: 'gift_card_hold',
      currency,
      amount,
      debit: ACCOUNTS.giftCardLiability,
      credit: ACCOUNTS.giftCardHeld,
    });
  }

  /** The payment will not happen: the held amount goes back to the card. */
  async release(tx: Executor, merchantId: string, code: string, amount: number, currency: string, reference: string): Promise<void> {
    // A card that expired (or was canceled) meanwhile cannot hold it any more: it is breakage, like the rest
    // of an expired card's balance.
    const back = await this.cards.credit(merchantId, code, amount, reference, tx);
    await this.ledger.transfer(tx, {
      merchantId,
      postingId: `gift_card_release:${reference}`,
      kind: 'gift_card_release',
      currency,
      amount,
      debit: ACCOUNTS.giftCardHeld,
      credit: back ? ACCOUNTS.giftCardLiability : ACCOUNTS.giftCardBreakage,
    });
  }

  /** Whether an active, unexpired card can pay `amount` now. */
  async canHold(merchantId: string, code: string, amount: number, tx: Executor): Promise<boolean> {
    const card = await this.cards.findByCode(merchantId, code, tx);
    return !!card && isSpendable(card) && card.balance >= amount;
  }

  /**
   * Whether `amount` fits back on an active, unexpired card (checked before a refund calls any provider):
   * a card past its expiry, even one the hourly job has not closed yet, would turn it into breakage.
   */
  async canTakeBack(merchantId: string, code: string, amount: number, tx: Executor): Promise<boolean> {
    const card = await this.cards.findByCode(merchantId, code, tx);
    return !!card && isSpendable(card) && card.balance + amount <= card.initialAmount;
  }

  /** A refund's card part: back on the card, out of `refunds`. */
  async refund(tx: Executor, merchantId: string, code: string, amount: number, reference: string): Promise<void> {
    if (!(await this.cards.credit(merchantId, code, amount, reference, tx))) {
      throw new DomainError('conflict', 'gift_card_credit_refused', 'The gift card cannot take this amount back.', { param: 'amount' });
    }
  }
}
