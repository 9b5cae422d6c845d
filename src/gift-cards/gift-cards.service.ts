import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AuthContext } from '../auth/auth.types';
import type { Env } from '../config/env';
import { DomainError, NotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import { newId } from '../common/ids';
import type { IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { currencyExponent } from '../common/money';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { OutboxRepository } from '../events/outbox.repository';
import { LedgerService } from '../ledger/ledger.service';
import { ACCOUNTS } from '../ledger/ledger.types';
import type { CheckoutSession } from '../payments/checkout/checkout-sessions.types';
import { CheckoutEvents } from '../payments/checkout/checkout-events';
import { CheckoutService } from '../payments/checkout/checkout.service';
import type { Line } from '../payments/payments.types';
import { ProductsService } from '../products/products.service';
import { priceIn } from '../products/products.types';
import type { PurchaseGiftCardDto, RedeemGiftCardDto, UseGiftCardDto } from './dto/gift-card.dto';
import { newGiftCardCode, normalizeCode } from './gift-card-code';
import { GiftCardsRepository } from './gift-cards.repository';
import { GiftCard, isSpendable } from './gift-cards.types';

/**
 * Gift cards (seed 002). A card is bought through a checkout session and created `pending`; it becomes
 * `active` in the same transaction that records the purchase's payment (a checkout completion hook).
 * Its balance is the `gift_card_liability` account: the purchase credits it, every use debits it into
 * `sales`, an expiry moves what is left to `gift_card_breakage`.
 */
@Injectable()
export class GiftCardsService implements OnModuleInit {
  private readonly expiryDays: number;
  private readonly voteMultiplier: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly cards: GiftCardsRepository,
    private readonly products: ProductsService,
    private readonly checkout: CheckoutService,
    private readonly checkoutEvents: CheckoutEvents,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxRepository,
    config: ConfigService<Env, true>,
  ) {
    this.expiryDays = config.get('GIFT_CARD_EXPIRY_DAYS', { infer: true });
    this.voteMultiplier = config.get('GIFT_CARD_VOTE_MULTIPLIER', { infer: true });
  }

  onModuleInit(): void {
    this.checkoutEvents.onCompleted((tx, session) => this.activate(tx, session));
  }

  /** A checkout session for the card; the card itself, pending, written in the session's transaction. */
  async purchase(caller: AuthContext, dto: PurchaseGiftCardDto, idem: IdempotencyContext, clientIp: string | null): Promise<unknown> {
    const line = await this.priceCard(caller.merchantId, dto);
    const votes = Math.floor(line.amount / 10 ** currencyExponent(line.currency)) * this.voteMultiplier;
    return this.checkout.create(
      caller,
      {
        items: [],
        currency: line.currency,
        customer: dto.customer,
        provider: dto.provider,
        successUrl: dto.successUrl,
        cancelUrl: dto.cancelUrl,
      },
      idem,
      clientIp,
      {
        lines: [line],
        onCreated: async (tx, session) => {
          for (let attempt = 0; attempt < 5; attempt++) {
            const card = await this.cards.insertPending(
              {
                merchantId: session.merchantId,
                id: newId('gc'),
                code: newGiftCardCode(),
                currency: line.currency,
                amount: line.amount,
                votes,
                recipientEmail: dto.recipientEmail.toLowerCase(),
                giftMessage: dto.giftMessage ?? null,
                purchaserCustomerId: session.customerId,
                checkoutSessionId: session.id,
              },
              tx,
            );
            if (card) return;
          }
          throw new DomainError('conflict', 'gift_card_code_unavailable', 'Could not draw an unused gift card code; retry.');
        },
        respond: async (session: CheckoutSession) => {
          const card = (await this.cards.findBySession(session.merchantId, session.id)) as GiftCard;
          return { checkoutSession: session, giftCard: { id: card.id, code: card.code, status: card.status } };
        },
      },
    );
  }

  async get(merchantId: string, rawCode: string): Promise<GiftCard> {
    const code = normalizeCode(rawCode);
    const card = code ? await this.cards.findByCode(merchantId, code) : null;
    if (!card) throw new NotFoundError('gift card', rawCode);
    return card;
  }

  /** Assigns an active card to a user, exactly once. */
  async redeem(merchantId: string, dto: RedeemGiftCardDto): Promise<GiftCard> {
    const card = await this.get(merchantId, dto.code);
    return this.db.transaction(async (tx) => {
      const redeemed = await this.cards.redeem(merchantId, card.code, dto.userId, tx);
      if (!redeemed) throw this.refusal(await this.get(merchantId, card.code), 'redeem');
      await this.outbox.insert(
        [
          {
            merchantId,
            type: 'gift_card.redeemed',
            aggregateType: 'gift_card',
            aggregateId: card.id,
            data: {
              giftCardId: card.id,
              userId: dto.userId,
              balance: redeemed.balance,
              currency: redeemed.currency,
              votes: redeemed.votes,
            },
          },
        ],
        tx,
      );
      return redeemed;
    });
  }

  /** Spends part of the balance; never below zero, however many uses race. */
  async use(merchantId: string, rawCode: string, dto: UseGiftCardDto) {
    const card = await this.get(merchantId, rawCode);
    return this.db.transaction(async (tx) => {
      const after = await this.cards.debit(merchantId, card.code, dto.amount, dto.currency, dto.reference, tx);
      if (!after) throw this.refusal(await this.get(merchantId, card.code), 'use', dto);
      await this.ledger.transfer(tx, {
        merchantId,
        postingId: `gift_card_use:${card.id}:${newId('le')}`,
        kind: 'gift_card_use',
        currency: dto.currency,
        amount: dto.amount,
        debit: ACCOUNTS.giftCardLiability,
        credit: ACCOUNTS.sales,
      });
      return {
        giftCard: { code: after.code, balance: after.balance, currency: after.currency, status: after.status },
        amount: dto.amount,
        reference: dto.reference,
      };
    });
  }

  /** The expiry job: an active card past its expiry loses what is left (breakage). */
  async expire(merchantId: string, id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const expired = await this.cards.expire(merchantId, id, tx);
      if (!expired) return false;
      if (expired.forfeited > 0) {
        await this.ledger.transfer(tx, {
          merchantId,
          postingId: `gift_card_expiry:${id}`,
          kind: 'gift_card_expiry',
          currency: expired.currency,
          amount: expired.forfeited,
          debit: ACCOUNTS.giftCardLiability,
          credit: ACCOUNTS.giftCardBreakage,
        });
      }
      return true;
    });
  }

  /** Every card due, in batches of `limit` (a batch smaller than that was the last). */
  async expireDue(limit = 100): Promise<number> {
    let expired = 0;
    for (;;) {
      const due = await this.cards.findExpired(limit);
      for (const card of due) if (await this.expire(card.merchantId, card.id)) expired++;
      if (due.length < limit) return expired;
    }
  }

  /** Checkout completion hook: the card bought in this session becomes active. */
  private async activate(tx: Executor, session: CheckoutSession): Promise<void> {
    const card = await this.cards.activateForSession(session.merchantId, session.id, this.expiryDays, tx);
    if (!card) return;
    await this.outbox.insert(
      [
        {
          merchantId: session.merchantId,
          type: 'gift_card.activated',
          aggregateType: 'gift_card',
          aggregateId: card.id,
          // For the recipient's email (notifications): the code travels only in this event.
          data: {
            giftCardId: card.id,
            code: card.code,
            amount: card.initialAmount,
            currency: card.currency,
            votes: card.votes,
            recipientEmail: card.recipientEmail,
            giftMessage: card.giftMessage,
            expiresAt: card.expiresAt,
          },
        },
      ],
      tx,
    );
  }

  private async priceCard(merchantId: string, dto: PurchaseGiftCardDto): Promise<Line & { currency: string }> {
    if (dto.productId && dto.amount !== undefined) throw new ValidationFailedError('Give productId or amount, not both.', 'amount');
    if (dto.productId) {
      const product = (await this.products.findManyFresh(merchantId, [dto.productId]))[0];
      if (!product || !product.active || product.archivedAt || product.type !== 'GIFT_CARD') {
        throw new DomainError('unprocessable', 'product_unavailable', `Product '${dto.productId}' is not an available gift card.`, {
          param: 'productId',
        });
      }
      const currency = dto.currency ?? (product.prices.length === 1 ? product.prices[0].currency : undefined);
      if (!currency) throw new ValidationFailedError('currency is required for a product with several prices', 'currency');
      const amount = priceIn(product, currency);
      if (amount === undefined)
        throw new DomainError('unprocessable', 'price_unavailable', `Product '${dto.productId}' has no ${currency} price.`, {
          param: 'currency',
        });
      return { productId: product.id, name: product.name, unitAmount: amount, quantity: 1, amount, productType: 'GIFT_CARD', currency };
    }
    if (dto.amount === undefined || !dto.currency)
      throw new ValidationFailedError('Give productId, or amount and currency.', dto.amount === undefined ? 'amount' : 'currency');
    return {
      productId: null,
      name: 'Gift card',
      unitAmount: dto.amount,
      quantity: 1,
      amount: dto.amount,
      productType: 'GIFT_CARD',
      currency: dto.currency,
    };
  }

  private refusal(card: GiftCard, action: 'redeem' | 'use', use?: UseGiftCardDto): DomainError {
    if (!isSpendable(card)) {
      return new DomainError(
        'unprocessable',
        'gift_card_not_active',
        `The gift card is ${card.status === 'active' ? 'expired' : card.status}.`,
        { param: 'code' },
      );
    }
    if (action === 'redeem')
      return new DomainError('conflict', 'gift_card_already_redeemed', 'The gift card has already been redeemed.', { param: 'code' });
    if (use && use.currency !== card.currency)
      return new DomainError('unprocessable', 'currency_mismatch', `The gift card is in ${card.currency}.`, { param: 'currency' });
    return new DomainError('unprocessable', 'insufficient_balance', 'The gift card balance is lower than the amount.', { param: 'amount' });
  }
}
