import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export const IDEMPOTENCY_POLICY = 'paybridge:idempotency';

export interface IdempotencyPolicy {
  /** The request is refused (400 idempotency_key_required) without an Idempotency-Key. */
  required: boolean;
  /**
   * atomic (the default for every POST): the handler only touches our database; it runs in one
   *   transaction together with storing its response, so a crash at any line leaves either nothing or
   *   the finished result. A handler that calls a provider or starts background work must be phased.
   * phased: the handler calls the outside world (a provider); it commits its own phases, records
   *   recovery points through the IdempotencyContext and may store the response in its last phase.
   * unstored: the response carries a secret that must never be stored (a new API key's): the
   *   Idempotency-Key is ignored, and a retry creates another (the unused one is revoked).
   */
  mode: 'atomic' | 'phased' | 'unstored';
}

/** Marks a POST route as idempotent (every POST is, with an optional key, unless it says otherwise). */
export const Idempotent = (policy: Partial<IdempotencyPolicy> = {}) =>
  SetMetadata(IDEMPOTENCY_POLICY, { required: true, mode: 'atomic', ...policy } satisfies IdempotencyPolicy);

/** The claimed key of a phased request. */
export interface IdempotencyContext {
  merchantId: string;
  key: string;
  lockToken: string;
  /** The last phase that committed before this attempt (Brandur Leach's recovery point). */
  recoveryPoint: string;
  /** Set by the handler when it stored the response in its own last phase. */
  completed: boolean;
  /** The request id, stored in replayed error bodies. */
  requestId: string;
}

export const Idempotency = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): IdempotencyContext | undefined => ctx.switchToHttp().getRequest<FastifyRequest>().idempotency,
);
