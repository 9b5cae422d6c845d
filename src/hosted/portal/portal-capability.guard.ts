import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PortalService } from './portal.service';

export const PORTAL_KEY_ID = 'portal';

/**
 * The capability of /portal/:token/…: the token. Its merchant becomes the request's caller (a
 * publishable-key caller, the customer's side) so the idempotency interceptor works as on the API; the
 * page's Idempotency-Key is namespaced by the customer, so a customer can never claim (or collide with) a
 * key of the merchant's own requests.
 */
@Injectable()
export class PortalCapabilityGuard implements CanActivate {
  constructor(private readonly portal: PortalService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest<{ Params: { token: string } }>>();
    const session = await this.portal.find(req.params.token);
    req.auth = { merchantId: session.merchantId, keyId: PORTAL_KEY_ID, kind: 'publishable' };
    req.portalSession = session;
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string' && key.length > 0 && key.length <= 200)
      req.headers['idempotency-key'] = `portal:${session.customerId}:${key}`;
    return true;
  }
}
