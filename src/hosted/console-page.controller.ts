import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { pickLocale } from './locale';
import { sendPage } from './web-pages';

/** The admin console's page. Signing in is src/auth/console-session.controller.ts; its data is the API's. */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsolePageController {
  @Get()
  page(@Query('locale') locale: unknown, @Headers('accept-language') acceptLanguage: string | undefined, @Res() reply: FastifyReply) {
    sendPage(reply, 'console', pickLocale(locale, acceptLanguage));
  }
}
