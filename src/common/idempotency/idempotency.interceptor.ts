import { createHash, randomUUID } from 'node:crypto';
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, Observable } from 'rxjs';
import type { Env } from '../../config/env';
import { DatabaseService } from '../../database/database.service';
import { DomainError } from '../errors/domain-errors';
import { toApiError } from '../errors/api-exception.filter';
import { canonicalJson } from './canonical-json';
import { IDEMPOTENCY_POLICY, IdempotencyContext, IdempotencyPolicy } from './idempotency.decorator';
import { FinishedKeys } from './finished-keys';
import { IdempotencyRepository, StoredResponse } from './idempotency.repository';
import { ReplayedResponse } from './replayed-response';

const DEFAULT_POLICY: IdempotencyPolicy = { required: false, mode: 'atomic' };
/** Memory for the answers of finished keys (see FinishedKeys). */
const FINISHED_KEYS_BYTES = 16 * 1024 * 1024;

/**
 * API.md's idempotency, implemented once for every POST route. The first request with a key claims it
 * (one INSERT … ON CONFLICT), runs, and stores its response; later requests with the same key replay
 * that response, get 409 while it runs, or 422 if their body differs. Postgres holds the claim, so this
 * holds across any number of instances.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly ttlHours: number;
  private readonly lockTimeoutSeconds: number;
  private readonly finished = new FinishedKeys(FINISHED_KEYS_BYTES);

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: IdempotencyRepository,
    private readonly db: DatabaseService,
    config: ConfigService<Env, true>,
  ) {
    this.ttlHours = config.get('IDEMPOTENCY_TTL_HOURS', { infer: true });
    this.lockTimeoutSeconds = config.get('IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', { infer: true });
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    if (req.method !== 'POST' || !req.auth) return next.handle();
    const policy = this.reflector.get<IdempotencyPolicy>(IDEMPOTENCY_POLICY, context.getHandler()) ?? DEFAULT_POLICY;
    if (policy.mode === 'unstored') return next.handle();
    const header = req.headers['idempotency-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined) {
      if (policy.required) {
        throw new DomainError('idempotency_required', 'idempotency_key_required', 'This request requires an Idempotency-Key header.');
      }
      return next.handle();
    }
    if (key.length < 1 || key.length > 255) {
      throw new DomainError('invalid_request', 'idempotency_key_invalid', 'Idempotency-Key must be 1 to 255 characters.', {
        param: 'Idempotency-Key',
      });
    }
    const res = context.switchToHttp().getResponse<FastifyReply>();
    return from(this.run(req, res, req.auth.merchantId, key, policy, next));
  }

  private async run(req: FastifyRequest, res: FastifyReply, merchantId: string, key: string, policy: IdempotencyPolicy, next: CallHandler) {
    const hash = createHash('sha256')
      .update(`${req.method} ${req.url}\n${canonicalJson(req.body ?? null)}`)
      .digest('hex');
    const known = this.finished.get(merchantId, key);
    if (known && known.hash !== hash) throw mismatch();
    if (known) throw new ReplayedResponse(known.response.status, known.response.body);
    const claim = await this.keys.claim(
      { merchantId, key, method: req.method, path: req.url, hash },
      randomUUID(),
      this.ttlHours,
      this.lockTimeoutSeconds,
    );
    switch (claim.outcome) {
      case 'replay':
        this.finished.remember(merchantId, key, hash, claim.response, claim.expiresAt);
        throw new ReplayedResponse(claim.response.status, claim.response.body);
      case 'mismatch':
        throw mismatch();
      case 'in_use':
        throw new DomainError(
          'idempotency_in_use',
          'idempotency_key_in_use',
          'A request with this Idempotency-Key is still being processed; retry shortly.',
          {
            retryAfterSeconds: 1,
          },
        );
    }
    const ctx: IdempotencyContext = {
      merchantId,
      key,
      lockToken: claim.lockToken,
      recoveryPoint: claim.recoveryPoint,
      completed: false,
      requestId: String(req.id ?? ''),
    };
    return policy.mode === 'atomic' ? this.runAtomic(res, ctx, next) : this.runPhased(req, res, ctx, next);
  }

  /** Handler and stored response commit together; on any error nothing happened, so the key is released. */
  private async runAtomic(res: FastifyReply, ctx: IdempotencyContext, next: CallHandler) {
    try {
      return await this.db.transaction(async (tx) => {
        const result = await lastValueFrom(next.handle(), { defaultValue: undefined });
        // Fails (409 idempotency_key_in_use) if a retry took the key over: then nothing of this commits.
        await this.keys.completeOwned(ctx, successResponse(res.statusCode, result), tx);
        return result;
      });
    } catch (err) {
      // The key expires anyway if this fails: the handler's error is the one to report.
      await this.keys.release(ctx.merchantId, ctx.key, ctx.lockToken).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The handler commits its own phases. A final answer (2xx, or a 4xx such as a decline) is stored for
   * replay unless the handler stored it itself; anything else unlocks the key so that a retry resumes
   * from the last recovery point.
   */
  private async runPhased(req: FastifyRequest, res: FastifyReply, ctx: IdempotencyContext, next: CallHandler) {
    req.idempotency = ctx;
    try {
      const result = await lastValueFrom(next.handle(), { defaultValue: undefined });
      if (!ctx.completed) await this.keys.complete(ctx.merchantId, ctx.key, ctx.lockToken, successResponse(res.statusCode, result));
      return result;
    } catch (err) {
      if (ctx.completed) throw err;
      const { status } = toApiError(err);
      if (status >= 400 && status < 500 && status !== 409) {
        await this.keys.complete(ctx.merchantId, ctx.key, ctx.lockToken, errorResponse(err, ctx.requestId));
      } else {
        await this.keys.unlock(ctx.merchantId, ctx.key, ctx.lockToken);
      }
      throw err;
    }
  }
}

function mismatch(): DomainError {
  return new DomainError('idempotency_mismatch', 'idempotency_key_reused', 'This Idempotency-Key was used with a different request.');
}

/** The stored form of an error response, exactly as the exception filter sends it. */
export function errorResponse(err: unknown, requestId: string): StoredResponse {
  const { status, body } = toApiError(err);
  body.error.requestId = requestId;
  return { status, body: JSON.stringify(body) };
}

export function successResponse(status: number, result: unknown): StoredResponse {
  return { status, body: result === undefined ? '' : JSON.stringify(result) };
}
