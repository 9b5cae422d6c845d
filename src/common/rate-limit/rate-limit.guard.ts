import { performance } from 'node:perf_hooks';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Counter } from 'prom-client';
import { PUBLIC_ROUTE } from '../../auth/auth.decorators';
import { MetricsService } from '../../metrics/metrics.service';
import { DatabaseUnavailableError, DomainError } from '../errors/domain-errors';
import { clientAddressKey } from './client-address';
import { RateLimitPolicy } from './rate-limit.policy';
import { RateLimitCount, RateLimitRepository } from './rate-limit.repository';

/** Clients refused in their current window that an instance remembers (a few MB at most). */
const MAX_REMEMBERED_REFUSALS = 10_000;

export class RateLimitExceededError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('rate_limited', 'rate_limited', `Too many requests with this API key from this address; retry after ${retryAfterSeconds} s.`, {
      retryAfterSeconds,
    });
  }
}

/**
 * Global guard, after ApiKeyGuard (APP_GUARDs run in module registration order: RateLimitModule is
 * imported after AuthModule). Every route called with a publishable or secret key counts one request per
 * (API key, client address) in a one-minute window shared by every instance through PostgreSQL; over the
 * route's limit: 429 `rate_limited` with Retry-After. @Public() routes and admin keys are not limited.
 *
 * A count only grows until its window ends, so once a client is refused, this instance refuses it again
 * without asking the database until then: a flood from one client costs one statement per instance and
 * window, not one per request.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly refused: Counter<string>;
  private readonly unchecked: Counter<string>;
  /** Subject → performance.now() at which its window ends. */
  private readonly refusedUntil = new Map<string, number>();

  constructor(
    private readonly reflector: Reflector,
    private readonly policy: RateLimitPolicy,
    private readonly counters: RateLimitRepository,
    metrics: MetricsService,
  ) {
    this.refused = metrics.counter('rate_limited_requests_total', 'Requests refused with 429 by the rate limit, per bucket', ['bucket']);
    this.unchecked = metrics.counter(
      'rate_limit_unchecked_total',
      'Requests let through unchecked because the database could not count them, per bucket',
      ['bucket'],
    );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const handler = context.getHandler();
    const controller = context.getClass();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [handler, controller])) return true;

    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const auth = req.auth;
    // ApiKeyGuard sets auth on every non-public route it lets through: without it, the guards run in the
    // wrong order and nothing would ever be limited. Fail loudly rather than silently.
    if (!auth) throw new Error('RateLimitGuard ran before ApiKeyGuard: import RateLimitModule after AuthModule');
    if (auth.kind === 'admin') return true;

    const { bucket, perMinute } = this.policy.limitFor(handler, controller);
    const subject = { merchantId: auth.merchantId, bucket, apiKeyId: auth.keyId, clientIp: clientAddressKey(req.ip) };
    const remembered = `${subject.merchantId} ${bucket} ${subject.apiKeyId} ${subject.clientIp}`;
    const until = this.refusedUntil.get(remembered);
    if (until !== undefined) {
      const left = until - performance.now();
      if (left > 0) throw this.refusal(bucket, left);
      this.refusedUntil.delete(remembered);
    }

    let counted: RateLimitCount;
    try {
      counted = await this.counters.hit(subject);
    } catch (err) {
      // Fail open when the database cannot take the count (down, or the pool exhausted past its acquire
      // timeout): a route served from the cache keeps answering, and a route that needs the database
      // answers 503 by itself.
      if (!(err instanceof DatabaseUnavailableError)) throw err;
      this.unchecked.inc({ bucket });
      return true;
    }
    if (counted.count <= perMinute) return true;
    this.remember(remembered, counted.resetMs);
    throw this.refusal(bucket, counted.resetMs);
  }

  private refusal(bucket: string, resetMs: number): RateLimitExceededError {
    this.refused.inc({ bucket });
    return new RateLimitExceededError(Math.max(1, Math.ceil(resetMs / 1000)));
  }

  private remember(subject: string, resetMs: number): void {
    const now = performance.now();
    if (this.refusedUntil.size >= MAX_REMEMBERED_REFUSALS) {
      for (const [key, until] of this.refusedUntil) if (until <= now) this.refusedUntil.delete(key);
      if (this.refusedUntil.size >= MAX_REMEMBERED_REFUSALS) return; // full of live refusals: the database still counts
    }
    this.refusedUntil.set(subject, now + resetMs);
  }
}
