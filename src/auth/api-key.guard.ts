import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain-errors';
import { ApiKeysService } from './api-keys.service';
import { ALLOWED_KINDS, PUBLIC_ROUTE } from './auth.decorators';
import { ConsoleSessionsService } from './console-sessions.service';
import type { KeyKind } from './auth.types';

/**
 * Global guard, closed by default: a route is reachable only if it is @Public() or names the key kinds
 * it accepts with @AllowKeys(). Missing, unknown or revoked key: 401. Valid key of the wrong kind: 403.
 * Without X-Api-Key, the admin console's session cookie stands for the key it signed in with (and a
 * state-changing request must carry its CSRF token): the console can do what that key can, no more.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
    private readonly console: ConsoleSessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const allowed = this.reflector.getAllAndOverride<KeyKind[]>(ALLOWED_KINDS, targets) ?? [];

    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const header = req.headers['x-api-key'];
    const plaintext = typeof header === 'string' ? header : undefined;
    const viaConsole = plaintext ? null : await this.console.authenticate(req);
    if (!plaintext && !viaConsole)
      throw new DomainError('unauthenticated', 'api_key_missing', 'Provide an API key in the X-Api-Key header.');
    const key = viaConsole ?? (plaintext && plaintext.length <= 200 ? await this.keys.authenticate(plaintext) : null);
    if (!key) throw new DomainError('unauthenticated', 'api_key_invalid', 'The API key is invalid or has been revoked.');
    if (!allowed.includes(key.kind)) {
      throw new DomainError('forbidden', 'api_key_kind_forbidden', `A ${key.kind} key cannot call this route.`);
    }
    req.auth = { merchantId: key.merchantId, keyId: key.id, kind: key.kind };
    return true;
  }
}
