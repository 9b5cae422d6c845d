import type { AuthContext } from '../auth/auth.types';
import type { IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import type { PortalSession } from '../hosted/portal/portal-sessions.repository';
import type { CheckoutSession } from '../payments/checkout/checkout-sessions.types';

declare module 'http' {
  interface IncomingMessage {
    /** The request id (assignRequestId), shared by Fastify and pino-http. */
    id: string | number | object;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by ApiKeyGuard. */
    auth?: AuthContext;
    /** Set by the idempotency interceptor for phased routes. */
    idempotency?: IdempotencyContext;
    /** Set by Nest (rawBody: true): webhook signatures are computed over it. */
    rawBody?: Buffer;
    /** Set by CheckoutCapabilityGuard on the hosted checkout page's routes. */
    hostedCheckout?: CheckoutSession;
    /** Set by PortalCapabilityGuard on the customer portal's routes. */
    portalSession?: PortalSession;
  }
}
export {};
