import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthContext, KeyKind } from './auth.types';

export const ALLOWED_KINDS = 'paybridge:allowed-key-kinds';
export const PUBLIC_ROUTE = 'paybridge:public-route';

/** Which key kinds may call this route (or every route of a controller). */
export const AllowKeys = (...kinds: KeyKind[]) => SetMetadata(ALLOWED_KINDS, kinds);

/** No API key: health, metrics, docs and provider webhooks (which verify their own signatures). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The caller's merchant and key, as established by ApiKeyGuard. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<FastifyRequest>().auth;
  if (!auth) throw new Error('Caller used on a route without an API key');
  return auth;
});
