import { Body, Controller, Get, HttpCode, Ip, Param, Post } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { Idempotency, Idempotent, type IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { PurchaseGiftCardDto, RedeemGiftCardDto, UseGiftCardDto } from './dto/gift-card.dto';
import { GiftCardsService } from './gift-cards.service';
import { publicView } from './gift-cards.types';

@ApiTags('gift cards')
@ApiSecurity('api-key')
@Controller('gift-cards')
export class GiftCardsController {
  constructor(private readonly giftCards: GiftCardsService) {}

  /** Buys a card (a catalog GIFT_CARD product or a free amount): returns the checkout session and the pending card. */
  @Post('purchase')
  @AllowKeys('publishable', 'secret')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 403, 409, 422, 503)
  purchase(@Caller() caller: AuthContext, @Body() body: PurchaseGiftCardDto, @Idempotency() idem: IdempotencyContext, @Ip() ip: string) {
    return this.giftCards.purchase(caller, body, idem, ip ?? null);
  }

  /** Assigns an active card to a user, once. */
  @Post('redeem')
  @HttpCode(200)
  @AllowKeys('publishable', 'secret')
  @Idempotent()
  @ApiErrors(400, 401, 403, 404, 409, 422)
  async redeem(@Caller() caller: AuthContext, @Body() body: RedeemGiftCardDto) {
    return publicView(await this.giftCards.redeem(caller.merchantId, body));
  }

  @Get(':code')
  @AllowKeys('publishable', 'secret')
  @ApiErrors(401, 403, 404)
  async get(@Caller() caller: AuthContext, @Param('code') code: string) {
    const card = await this.giftCards.get(caller.merchantId, code);
    return caller.kind === 'secret' ? card : publicView(card);
  }

  @Get(':code/balance')
  @AllowKeys('publishable', 'secret')
  @ApiErrors(401, 403, 404)
  async balance(@Caller() caller: AuthContext, @Param('code') code: string) {
    const card = await this.giftCards.get(caller.merchantId, code);
    return { code: card.code, balance: card.balance, currency: card.currency, status: card.status, expiresAt: card.expiresAt };
  }

  /** Spends part of the balance (the merchant's own order): never below zero, even under concurrent use. */
  @Post(':code/use')
  @HttpCode(200)
  @AllowKeys('secret')
  @Idempotent()
  @ApiErrors(400, 401, 403, 404, 409, 422)
  use(@Caller() caller: AuthContext, @Param('code') code: string, @Body() body: UseGiftCardDto) {
    return this.giftCards.use(caller.merchantId, code, body);
  }
}
