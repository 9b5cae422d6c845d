import { Body, Controller, Get, Headers, HttpCode, Ip, Param, Post, Query, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AllowKeys, Caller, Public } from '../../auth/auth.decorators';
import type { AuthContext } from '../../auth/auth.types';
import { ApiErrors } from '../../common/openapi';
import { pickLocale } from '../locale';
import { sendPage } from '../web-pages';
import { CreatePortalSessionDto, GiftCardBalanceDto } from './portal.dto';
import { PortalService } from './portal.service';

@ApiTags('portal')
@Controller('portal')
export class PortalController {
  constructor(private readonly portal: PortalService) {}

  /** The merchant's back end asks for a customer's portal URL (short-lived; the URL is the capability). */
  @Post('sessions')
  @AllowKeys('secret')
  @ApiSecurity('api-key')
  @ApiErrors(400, 401, 403, 404)
  create(@Caller() caller: AuthContext, @Body() body: CreatePortalSessionDto) {
    return this.portal.create(caller.merchantId, body.customerId, body.returnUrl);
  }

  @Get(':token')
  @Public()
  @ApiExcludeEndpoint()
  page(@Query('locale') locale: unknown, @Headers('accept-language') acceptLanguage: string | undefined, @Res() reply: FastifyReply) {
    sendPage(reply, 'portal', pickLocale(locale, acceptLanguage));
  }

  /** What the portal shows: the customer, their transactions with receipt lines. */
  @Get(':token/session')
  @Public()
  @ApiErrors(404)
  async view(
    @Param('token') token: string,
    @Query('locale') locale: unknown,
    @Headers('accept-language') acceptLanguage: string | undefined,
  ) {
    return this.portal.view(await this.portal.find(token), pickLocale(locale, acceptLanguage));
  }

  /** A gift card's balance (of this portal's merchant). */
  @Post(':token/gift-card-balance')
  @Public()
  @HttpCode(200)
  @ApiErrors(400, 404, 429)
  async giftCardBalance(@Param('token') token: string, @Body() body: GiftCardBalanceDto, @Ip() ip: string) {
    return this.portal.giftCardBalance(await this.portal.find(token), body.code, ip ?? null);
  }
}
