import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { HOSTED_CHECKOUT_KEY_ID, HostedCheckoutService } from './hosted-checkout.service';

/**
 * The capability of /pay/:sessionId/…: the session id. Its merchant becomes the request's caller (a
 * publishable-key caller, the customer's side), so the idempotency interceptor and the coupon guessing
 * limit work as on the API; the page's Idempotency-Key is namespaced by the session, so a customer can
 * never claim (or collide with) a key of the merchant's own requests.
 */
@Injectable()
export class CheckoutCapabilityGuard implements CanActivate {
  constructor(private readonly hosted: HostedCheckoutService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest<{ Params: { sessionId: string } }>>();
    const session = await this.hosted.find(req.params.sessionId);
    req.auth = { merchantId: session.merchantId, keyId: HOSTED_CHECKOUT_KEY_ID, kind: 'publishable' };
    req.hostedCheckout = session;
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string' && key.length > 0 && key.length <= 200) req.headers['idempotency-key'] = `pay:${session.id}:${key}`;
    return true;
  }
}
