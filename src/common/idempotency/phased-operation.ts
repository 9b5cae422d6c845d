import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../config/env';
import { DatabaseService } from '../../database/database.service';
import type { Transaction } from '../../database/database.types';
import type { IdempotencyContext } from './idempotency.decorator';
import { IdempotencyRepository, KeyCompletion, StoredResponse } from './idempotency.repository';

/**
 * One request that calls the outside world, in Brandur Leach's atomic phases:
 *   record(point, …)  a transaction of ours that also moves the key's recovery point (a retry resumes there);
 *   (the provider is called outside any transaction, between phases)
 *   finish(…)         the last transaction: the outcome and the answer stored for replay, together.
 * Services take one operation instead of the key, its lock and who stores the answer. The same code
 * runs for a live request (`live`), for the recovery job finishing a request whose process died
 * (`abandoned`: its answer goes to that key unless a live request holds it again) and for work nobody
 * waits on, such as a webhook (`detached`: phases commit, nothing is stored).
 */
export class PhasedOperation {
  constructor(
    private readonly db: DatabaseService,
    private readonly keys: IdempotencyRepository,
    private readonly ctx: IdempotencyContext | null,
    private readonly completion: KeyCompletion | null,
  ) {}

  /** A client waits for this operation's answer (and may be served by a new provider call). */
  get live(): boolean {
    return this.ctx !== null;
  }

  /** The Idempotency-Key of the live request. */
  get key(): string {
    if (!this.ctx) throw new Error('a detached operation has no Idempotency-Key');
    return this.ctx.key;
  }

  get requestId(): string {
    return this.ctx?.requestId ?? '';
  }

  /** The last phase that committed before this attempt is `point`: resume from there. */
  resumesFrom(point: string): boolean {
    return this.ctx?.recoveryPoint === point;
  }

  /**
   * A phase: `work`'s writes commit together with the recovery point `point`. The recovery point's
   * statement is handed over behind them (pipelined), so it costs no round trip of its own.
   */
  async record<T>(point: string, work: (tx: Transaction) => T | Promise<T>): Promise<T> {
    const ctx = this.ctx;
    return this.db.transaction(async (tx) => {
      const result = await work(tx);
      if (ctx) tx.later(this.keys.advance(ctx, point, tx));
      return result;
    });
  }

  /**
   * The last phase: `work`'s writes and the answer `answer(result)` stored for the key commit together
   * (the answer's statement leaves with COMMIT). A live request is marked completed, so the interceptor
   * neither stores nor releases the key after it.
   */
  async finish<T>(work: (tx: Transaction) => Promise<T>, answer: (result: T) => StoredResponse): Promise<T> {
    const completion = this.completion;
    const result = await this.db.transaction(async (tx) => {
      const done = await work(tx);
      if (completion) tx.later(completion(tx, answer(done)));
      return done;
    });
    if (this.ctx) this.ctx.completed = true;
    return result;
  }

  /** The last phase when nothing is left to write but the answer (the outcome was settled meanwhile). */
  async answer(response: StoredResponse): Promise<void> {
    await this.finish(
      () => Promise.resolve(undefined),
      () => response,
    );
  }
}

/** Makes the operation of a live request, of an abandoned key, or a detached one. */
@Injectable()
export class Phases {
  private readonly lockTimeoutSeconds: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly keys: IdempotencyRepository,
    config: ConfigService<Env, true>,
  ) {
    this.lockTimeoutSeconds = config.get('IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', { infer: true });
  }

  /** The request holding `ctx`'s key: phases fail (409) if it lost the lock. */
  live(ctx: IdempotencyContext): PhasedOperation {
    return new PhasedOperation(this.db, this.keys, ctx, (tx, response) => this.keys.completeOwned(ctx, response, tx));
  }

  /**
   * Finishing a request whose process died (the recovery job): its answer is stored for the client's
   * retry, unless a live request holds the key again.
   */
  abandoned(merchantId: string, key: string | null): PhasedOperation {
    if (!key) return this.detached();
    return new PhasedOperation(this.db, this.keys, null, this.keys.abandoned(merchantId, key, this.lockTimeoutSeconds));
  }

  /** Nobody waits (a webhook, a job): phases commit, no answer is stored. */
  detached(): PhasedOperation {
    return new PhasedOperation(this.db, this.keys, null, null);
  }
}
