import { Body, Controller, Get, Headers, HttpCode, Ip, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../auth/auth.decorators';
import { Idempotency, Idempotent, type IdempotencyContext } from '../../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../../common/openapi';
import { CouponGuessingLimit } from '../../coupons/coupon-guessing';
import type { CheckoutSession } from '../../payments/checkout/checkout-sessions.types';
import type { ProviderId } from '../../payments/providers/payment-provider';
import { pickLocale } from '../locale';
import { MerchantSettingsRepository } from '../settings/merchant-settings.repository';
import { sendPage } from '../web-pages';
import { CheckoutCapabilityGuard } from './checkout-capability.guard';
import { ApplyDiscountsDto, ContinueToProviderDto } from './dto/hosted-checkout.dto';
import { HostedCheckoutService } from './hosted-checkout.service';

/**
 * Paybridge's hosted checkout page and the routes it calls. No API key: the session id in the URL is the
 * capability (as a provider's hosted page URL is), and every route does only what the page may.
 */
@ApiTags('hosted checkout')
@Public()
@Controller('pay')
export class CheckoutPageController {
  constructor(
    private readonly hosted: HostedCheckoutService,
    private readonly settings: MerchantSettingsRepository,
    private readonly couponGuessing: CouponGuessingLimit,
  ) {}

  /** The page (HTML): framed only by the origins the session's merchant allows. */
  @Get(':sessionId')
  @ApiExcludeEndpoint()
  async page(
    @Param('sessionId') sessionId: string,
    @Query('locale') locale: unknown,
    @Headers('accept-language') acceptLanguage: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    const session = await this.hosted.find(sessionId).catch(() => null);
    const origins = session ? await this.settings.findFrameOrigins(session.merchantId) : [];
    // Unknown: the page itself (it says so, in the customer's language) with a 404.
    sendPage(reply, 'pay', pickLocale(locale, acceptLanguage), origins, session ? 200 : 404);
  }

  /** What the page shows: lines, amounts (minor units, with the currency's exponent), state, providers. */
  @Get(':sessionId/session')
  @ApiErrors(404)
  async view(
    @Param('sessionId') sessionId: string,
    @Query('locale') locale: unknown,
    @Headers('accept-language') acceptLanguage: string | undefined,
  ) {
    return this.hosted.view(await this.hosted.find(sessionId), pickLocale(locale, acceptLanguage));
  }

  /**
   * Applies a coupon and/or gift card: answers the session that replaces this one (`{id, status,
   * hostedUrl}`), or the succeeded payment when the gift card paid it all.
   */
  @Post(':sessionId/discounts')
  @UseGuards(CheckoutCapabilityGuard)
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 404, 409, 422, 429, 503)
  applyDiscounts(@Req() req: FastifyRequest, @Body() body: ApplyDiscountsDto, @Idempotency() idem: IdempotencyContext, @Ip() ip: string) {
    const session = req.hostedCheckout as CheckoutSession;
    const caller = req.auth as NonNullable<FastifyRequest['auth']>;
    return this.couponGuessing.check(caller, ip, body.couponCode, () => this.hosted.applyDiscounts(session, body, idem, ip ?? null));
  }

  /** Opens the session at the chosen provider: `{url}`, the provider's page to send the customer to. */
  @Post(':sessionId/continue')
  @HttpCode(200)
  @UseGuards(CheckoutCapabilityGuard)
  @Idempotent({ required: false, mode: 'phased' })
  @ApiErrors(400, 404, 422, 503)
  continueTo(
    @Req() req: FastifyRequest,
    @Body() body: ContinueToProviderDto,
    @Query('locale') locale: unknown,
    @Headers('accept-language') acceptLanguage: string | undefined,
  ) {
    return this.hosted.continueTo(req.hostedCheckout as CheckoutSession, body.provider as ProviderId, pickLocale(locale, acceptLanguage));
  }
}
