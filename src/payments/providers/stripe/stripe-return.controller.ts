import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../../../auth/auth.decorators';

/**
 * Where Stripe sends the customer after a 3-D Secure challenge when the charge request gave no
 * `returnUrl` (Stripe requires one to answer with a redirect URL). It only tells the customer that
 * the step is over: the outcome reaches Paybridge by signed webhook (payment_intent.succeeded or
 * payment_intent.payment_failed), never from these query parameters, which anyone can forge.
 */
@ApiExcludeController()
@Public()
@Controller('stripe')
export class StripeReturnController {
  @Get('return')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  page(@Query('redirect_status') redirectStatus?: string): string {
    const message =
      redirectStatus === 'succeeded'
        ? 'Authentication complete. You can return to the merchant.'
        : 'Authentication was not completed. You can return to the merchant and try again.';
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Payment authentication</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem"><h1>Payment authentication</h1><p>${message}</p></body></html>`;
  }
}
