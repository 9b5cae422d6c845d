import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../../../auth/auth.decorators';
import { NotFoundError } from '../../../common/errors/domain-errors';
import { toMajorString } from '../../../common/money';
import { contentSecurityPolicy } from '../../../common/security-headers';
import { CloseSimulatorDisputeDto, OpenSimulatorDisputeDto } from './simulator-disputes.dto';
import { SimulatorProvider } from './simulator.provider';

/**
 * Set by each page once it answers with HTML: a @Header decorator's Content-Type would stay on an error
 * answer (JSON in the API's shape), which fastify then cannot send (a 500).
 */
const HTML = 'text/html; charset=utf-8';

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}table{width:100%;border-collapse:collapse}
td{padding:.3rem 0;border-bottom:1px solid #ddd}td:last-child{text-align:right}form{display:inline-block;margin:1rem .5rem 0 0}
button{font-size:1rem;padding:.6rem 1.4rem}</style></head><body>${body}</body></html>`;
}

/**
 * The simulator's customer-facing pages: plain HTML forms that work without JavaScript. What the
 * customer does reaches Paybridge only as a signed webhook, as with a real provider. With the built-in
 * development secret they refuse to serve outside development and tests (SimulatorProvider.assertServing).
 */
@ApiExcludeController()
@Public()
@Controller('simulator')
export class SimulatorController {
  constructor(private readonly simulator: SimulatorProvider) {}

  @Get('checkout/:id')
  async checkoutPage(@Param('id') id: string, @Res({ passthrough: true }) res: FastifyReply): Promise<string> {
    this.simulator.assertServing();
    const session = await this.simulator.findSession(id);
    if (!session) throw new NotFoundError('simulator session', id);
    void res.type(HTML);
    // Pay and Decline answer with a redirect to the shop, which the browser checks against this page's
    // form-action: the API's own policy ('self') would stop the customer here.
    res.header('Content-Security-Policy', contentSecurityPolicy([session.successUrl, session.cancelUrl]));
    const rows = session.lines
      .map(
        (l) =>
          `<tr><td>${escape(l.name)} × ${l.quantity}</td><td>${toMajorString(l.unitAmount * l.quantity, session.currency)} ${session.currency}</td></tr>`,
      )
      .join('');
    const actions =
      session.status === 'open'
        ? `<form method="post" action="/simulator/checkout/${escape(id)}/pay"><button type="submit">Pay</button></form>
           <form method="post" action="/simulator/checkout/${escape(id)}/decline"><button type="submit">Decline</button></form>`
        : `<p>This checkout is ${escape(session.status)}.</p>`;
    const saving = session.saveMethod ? '<p>Your card will be saved for later charges (renewals) by this merchant.</p>' : '';
    return page(
      'Simulator checkout',
      `<h1>Simulator checkout</h1><table>${rows}<tr><td><strong>Total</strong></td><td><strong>${toMajorString(session.amount, session.currency)} ${session.currency}</strong></td></tr></table>${saving}${actions}`,
    );
  }

  @Post('checkout/:id/pay')
  pay(@Param('id') id: string, @Res() res: FastifyReply) {
    return this.submit(id, true, res);
  }

  @Post('checkout/:id/decline')
  decline(@Param('id') id: string, @Res() res: FastifyReply) {
    return this.submit(id, false, res);
  }

  @Get('3ds/:chargeId')
  async authenticationPage(@Param('chargeId') chargeId: string, @Res({ passthrough: true }) res: FastifyReply): Promise<string> {
    this.simulator.assertServing();
    const charge = await this.simulator.findCharge(chargeId);
    if (!charge) throw new NotFoundError('simulator charge', chargeId);
    void res.type(HTML);
    const actions =
      charge.status === 'requires_action'
        ? `<form method="post" action="/simulator/3ds/${escape(chargeId)}/complete"><button type="submit">Complete authentication</button></form>
           <form method="post" action="/simulator/3ds/${escape(chargeId)}/fail"><button type="submit">Fail authentication</button></form>`
        : `<p>This charge is ${escape(charge.status)}.</p>`;
    return page('3-D Secure', `<h1>3-D Secure</h1><p>${toMajorString(charge.amount, charge.currency)} ${charge.currency}</p>${actions}`);
  }

  @Post('3ds/:chargeId/complete')
  @HttpCode(200)
  async completeAuthentication(@Param('chargeId') chargeId: string, @Res({ passthrough: true }) res: FastifyReply): Promise<string> {
    this.simulator.assertServing();
    const done = await this.simulator.submitAuthentication(chargeId, true);
    void res.type(HTML);
    return page('3-D Secure', done ? '<h1>Authenticated</h1><p>You can return to the merchant.</p>' : '<h1>Nothing to authenticate</h1>');
  }

  @Post('3ds/:chargeId/fail')
  @HttpCode(200)
  async failAuthentication(@Param('chargeId') chargeId: string, @Res({ passthrough: true }) res: FastifyReply): Promise<string> {
    this.simulator.assertServing();
    const done = await this.simulator.submitAuthentication(chargeId, false);
    void res.type(HTML);
    return page('3-D Secure', done ? '<h1>Authentication failed</h1>' : '<h1>Nothing to authenticate</h1>');
  }

  /** The simulator's dashboard: a cardholder disputes a succeeded charge (JSON; sends the signed webhook). */
  @Post('charges/:chargeId/dispute')
  async openDispute(@Param('chargeId') chargeId: string, @Body() body: OpenSimulatorDisputeDto) {
    this.simulator.assertServing();
    const dispute = await this.simulator.openDispute(chargeId, body);
    if (!dispute) throw new NotFoundError('succeeded simulator charge', chargeId);
    return dispute;
  }

  @Post('disputes/:id/close')
  @HttpCode(200)
  async closeDispute(@Param('id') id: string, @Body() body: CloseSimulatorDisputeDto) {
    this.simulator.assertServing();
    const dispute = await this.simulator.closeDispute(id, body.outcome);
    if (!dispute) throw new NotFoundError('open simulator dispute', id);
    return dispute;
  }

  private async submit(id: string, approve: boolean, res: FastifyReply): Promise<void> {
    this.simulator.assertServing();
    const result = await this.simulator.submitHostedPayment(id, approve);
    if (!result) {
      await res.status(409).type('text/html; charset=utf-8').send(page('Simulator checkout', '<h1>This checkout is no longer open.</h1>'));
      return;
    }
    await res.redirect(result.redirectTo, 303);
  }
}
