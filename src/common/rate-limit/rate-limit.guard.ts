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
import { RateLimitLease, RateLimitRepository } from './rate-limit.repository';

/**
 * Subjects an instance remembers, refused or holding tokens (a few MB at most). When full of live
 * entries it simply stops remembering: the database still counts, so that costs statements (and the
 * tokens of the lease not kept), never correctness.
 */
const MAX_REMEMBERED_SUBJECTS = 10_000;

/** What this instance knows of a subject's current window, until performance.now() reaches `until`. */
interface LocalBudget {
  until: number;
  /** Tokens of this instance's leases not spent yet (0 when refused). */
  tokens: number;
  /** The window's count is spent: refuse without a statement until it ends. */
  refused: boolean;
}

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
 * A statement per request would be a large share of each request's cost, so an instance takes tokens
 * in leases (RateLimitRepository.lease) and spends them locally until they run out or the window ends.
 * The database's count is of tokens handed out, so no instance ever admits past the limit; tokens an
 * instance leased but did not spend before the window ended are lost, so across instances a client can
 * be refused slightly before it has sent `limit` requests, never after. A count only grows until its
 * window ends, so once a client is refused, this instance refuses it again without asking the database
 * until then: a flood from one client costs one statement per instance and window, not one per request.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly refused: Counter<string>;
  private readonly unchecked: Counter<string>;
  /** Subject → its refusal or its unspent tokens in the current window. */
  private readonly budgets = new Map<string, LocalBudget>();

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
    const key = `${subject.merchantId} ${bucket} ${subject.apiKeyId} ${subject.clientIp}`;
    const budget = this.budgets.get(key);
    if (budget) {
      const left = budget.until - performance.now();
      if (left <= 0) {
        this.budgets.delete(key);
      } else if (budget.refused) {
        throw this.refusal(bucket, left);
      } else {
        // Synchronous, so concurrent requests of one instance never spend the same token.
        if (--budget.tokens <= 0) this.budgets.delete(key);
        return true;
      }
    }

    // Taken before the statement, so the window end it gives is no later than the database's (to the
    // millisecond): a leased token is never spent in the next window, where it was not counted.
    const asked = performance.now();
    let lease: RateLimitLease;
    try {
      lease = await this.counters.lease(subject, perMinute);
    } catch (err) {
      // Fail open when the database cannot take the count (down, or the pool exhausted past its acquire
      // timeout): a route served from the cache keeps answering, and a route that needs the database
      // answers 503 by itself.
      if (!(err instanceof DatabaseUnavailableError)) throw err;
      this.unchecked.inc({ bucket });
      return true;
    }
    // The lease covers positions count - granted + 1 … count of the window's count; those past the limit
    // are not ours to spend.
    const usable = Math.max(0, Math.min(lease.granted, perMinute - (lease.count - lease.granted)));
    if (usable === 0) {
      this.rememberRefusal(key, lease.resetMs);
      throw this.refusal(bucket, lease.resetMs);
    }
    if (usable > 1) this.keepTokens(key, usable - 1, asked + lease.resetMs);
    return true;
  }

  private refusal(bucket: string, resetMs: number): RateLimitExceededError {
    this.refused.inc({ bucket });
    return new RateLimitExceededError(Math.max(1, Math.ceil(resetMs / 1000)));
  }

  private rememberRefusal(key: string, resetMs: number): void {
    const now = performance.now();
    const current = this.budgets.get(key);
    // Tokens of a concurrent lease are still ours to spend: the next request that finds none asks again.
    if (current && !current.refused && current.until > now) return;
    // After the statement: a refusal remembered a little too long is on the strict side.
    this.remember(key, { until: now + resetMs, tokens: 0, refused: true });
  }

  private keepTokens(key: string, tokens: number, until: number): void {
    const current = this.budgets.get(key);
    if (current && !current.refused && current.until > performance.now()) {
      // Concurrent leases: pooled tokens all expire with the earliest window end, so none of them can be
      // spent after the window it was counted in (the later one is then lost, on the strict side).
      current.tokens += tokens;
      current.until = Math.min(current.until, until);
      return;
    }
    this.remember(key, { until, tokens, refused: false });
  }

  private remember(key: string, budget: LocalBudget): void {
    if (!this.budgets.has(key) && this.budgets.size >= MAX_REMEMBERED_SUBJECTS) {
      const now = performance.now();
      for (const [other, { until }] of this.budgets) if (until <= now) this.budgets.delete(other);
      if (this.budgets.size >= MAX_REMEMBERED_SUBJECTS) return; // full of live entries: the database still counts
    }
    this.budgets.set(key, budget);
  }
}
