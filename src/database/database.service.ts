import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash } from 'node:crypto';
import { Client, Pool, PoolClient, PoolConfig, QueryConfig, QueryResult, QueryResultRow, types } from 'pg';
import { prepareValue } from 'pg/lib/utils';
import type { Env } from '../config/env';
import { DatabaseUnavailableError, ServiceOverloadedError } from '../common/errors/domain-errors';
import type { Executor, Transaction } from './database.types';
import { settleAll } from './settle-all';

// Type parsers are process-wide in pg: set them once, at import.
const INT8_OID = 20;
const DATE_OID = 1082;
types.setTypeParser(INT8_OID, (value: string) => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
});
types.setTypeParser(DATE_OID, (value: string) => value);

/** Errors that mean "the database is not reachable right now", as opposed to a bad statement. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', '57P01', '57P02', '57P03', '53300']);
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && UNAVAILABLE_CODES.has(e.code)) return true;
  const message = e?.message ?? '';
  return message.includes('timeout exceeded when trying to connect') || message.includes('Connection terminated');
}

interface AmbientTransaction {
  executor: Transaction;
  open: boolean;
}

/**
 * Parameterised statements run as named prepared statements: PostgreSQL parses and plans each one once
 * per connection instead of on every call. The name derives from the text, so it is stable and unique.
 */
const statementNames = new Map<string, string>();
function prepared(text: string, values?: unknown[]): QueryConfig | string {
  if (!values) return text;
  let name = statementNames.get(text);
  if (!name) {
    name = `pb_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

function executorOf(runner: Pool | PoolClient): Executor {
  return { query: <R extends QueryResultRow>(text: string, values?: unknown[]) => runner.query<R>(prepared(text, values) as QueryConfig) };
}

/**
 * A transaction's client, pipelined: statements issued in the same tick (BEGIN with the first statement,
 * a batch of independent writes) leave in one socket write instead of one each. On a small machine
 * each write (a system call and a wake-up of the server) is the largest cost of a statement: see
 * bench/README.md.
 */
function pipelinedExecutor(client: PoolClient) {
  const socket = (client as unknown as Client).connection.stream;
  const handedOver: Promise<unknown>[] = [];
  const onCommit: Array<() => void> = [];
  // The promises of statements sent: a handed-over write that is one of them can send nothing more.
  const statements = new WeakSet<Promise<unknown>>();
  let chains = 0;
  let corked = false;
  let over = false;
  const batch = () => {
    if (corked) return;
    corked = true;
    socket.cork();
    process.nextTick(() => {
      corked = false;
      socket.uncork();
    });
  };
  const executor: Transaction & {
    begin(): Promise<unknown>;
    committed(log: (err: unknown) => void): void;
    written(): Promise<void>;
    onlyStatementsHandedOver(): boolean;
    end(command: 'COMMIT' | 'ROLLBACK'): Promise<QueryResult>;
  } = {
    query: <R extends QueryResultRow>(text: string, values?: unknown[]) => {
      // Once COMMIT or ROLLBACK is sent, a statement would run outside the transaction (autocommitted),
      // or inside the next borrower's: it is refused instead.
      if (over) return Promise.reject(new Error('Statement issued after its transaction ended'));
      // pg converts the values while it sends the statement, and a value it cannot convert (a circular
      // object) fails the statement without sending it, while COMMIT may already follow. Converted
      // here first, such a value throws to the caller before anything is sent.
      const converted = values?.map(prepareValue);
      batch();
      const sent = client.query<R>(prepared(text, converted) as QueryConfig);
      statements.add(sent);
      return sent;
    },
    later: (write) => {
      write.catch(() => undefined); // awaited by written()
      handedOver.push(write);
      if (!statements.has(write)) chains++;
    },
    afterCommit: (fn) => {
      onCommit.push(fn);
    },
    committed: (log: (err: unknown) => void) => {
      // The transaction is committed whatever a callback does: a failure is logged, the rest still run.
      for (const fn of onCommit) {
        try {
          fn();
        } catch (err) {
          log(err);
        }
      }
    },
    begin: () => {
      batch();
      return client.query('BEGIN');
    },
    written: () => settleAll(handedOver),
    onlyStatementsHandedOver: () => chains === 0,
    end: (command) => {
      batch();
      over = true;
      return client.query(command);
    },
  };
  return executor;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/**
 * The one pg Pool every module shares, plus a small separate pool for reports and admin lists so that
 * they can never starve payments (seed 000). `transaction(fn)` is the only place that opens a
 * transaction; inside it, `query()` and nested `transaction()` calls run on the same client, so a
 * caller up the stack (the idempotency interceptor) can make a handler's writes and its stored response
 * one atomic unit.
 */
@Injectable()
export class DatabaseService implements Executor, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseService.name);
  private readonly pool: Pool;
  private readonly reportPool: Pool;
  private readonly ambient = new AsyncLocalStorage<AmbientTransaction>();
  private readonly shedThreshold: number;
  readonly url: string;

  constructor(@Inject(ConfigService) config: ConfigService<Env, true>) {
    this.url = config.get('DATABASE_URL', { infer: true }) as string;
    if (!this.url) throw new Error('DATABASE_URL is not set (main.ts starts an embedded server when it is missing)');
    const common = {
      connectionString: this.url,
      connectionTimeoutMillis: config.get('DATABASE_ACQUIRE_TIMEOUT_MS', { infer: true }),
      statement_timeout: config.get('DATABASE_STATEMENT_TIMEOUT_MS', { infer: true }),
      idleTimeoutMillis: 30_000,
    };
    // Pipelining (a pg Client option, not yet in @types/pg): statements issued together on one client go
    // out without waiting for each other's answers (see transaction()).
    const pipelined: PoolConfig & { pipeline: boolean } = {
      ...common,
      max: config.get('DATABASE_POOL_MAX', { infer: true }),
      application_name: 'paybridge',
      pipeline: true,
    };
    this.pool = new Pool(pipelined);
    this.reportPool = new Pool({
      ...common,
      max: config.get('DATABASE_REPORT_POOL_MAX', { infer: true }),
      application_name: 'paybridge-reports',
    });
    this.shedThreshold = config.get('DATABASE_SHED_THRESHOLD', { infer: true });
    this.poolExecutor = executorOf(this.pool);
    const reports = executorOf(this.reportPool);
    this.reports = { query: (text, values) => this.guard(() => reports.query(text, values)) };
    // Without a listener an idle client's error (server restart, 57P01) crashes the process.
    for (const pool of [this.pool, this.reportPool]) {
      pool.on('error', (err) => this.logger.error({ err }, 'idle database client failed'));
    }
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) {
    const tx = this.ambient.getStore();
    const runner = tx?.open ? tx.executor : this.poolExecutor;
    return this.guard(() => runner.query<R>(text, values));
  }

  private readonly poolExecutor: Executor;

  /** Read-only reports and admin lists: a separate, small pool. */
  readonly reports: Executor;

  /**
   * Runs fn inside BEGIN/COMMIT on one client, ROLLBACK on any error, and always releases the client.
   * Called inside another transaction it joins it.
   *
   * The client pipelines: BEGIN goes out with fn's first statement instead of costing a round trip of
   * its own, and statements that fn issues together travel together. PostgreSQL runs them in the order
   * sent; after a failed one the rest fail too (the transaction is aborted), COMMIT is answered with
   * ROLLBACK, and the error thrown is the one that caused it.
   *
   * Writes handed over with `tx.later()` are awaited before COMMIT, so that a chain (an async function)
   * still sending statements finishes inside the transaction. When every handed-over write is a single
   * statement's own promise (a repository that returns `tx.query(...)` itself), nothing more can be
   * sent, so COMMIT leaves with them at once: one round trip fewer.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const outer = this.ambient.getStore();
    if (outer?.open) return fn(outer.executor);

    const client = await this.guard(() => this.pool.connect());
    const executor = pipelinedExecutor(client);
    const state: AmbientTransaction = { executor, open: true };
    let ending: Promise<QueryResult> | undefined;
    let broken: Error | undefined;
    let done = false;
    try {
      const begun = executor.begin();
      begun.catch(() => undefined); // awaited below
      let result: T;
      try {
        result = await this.ambient.run(state, () => fn(executor));
        if (executor.onlyStatementsHandedOver()) {
          ending = executor.end('COMMIT');
          ending.catch(() => undefined); // awaited below
        }
      } finally {
        // A failed handed-over write aborted the transaction: its error, not the "transaction is
        // aborted" of the statements after it, is the one to report.
        await settleAll([begun, executor.written()]);
      }
      // PostgreSQL answers COMMIT in a failed transaction with ROLLBACK, not with an error.
      const committed = await (ending ?? executor.end('COMMIT'));
      if (committed.command !== 'COMMIT')
        throw new Error(`COMMIT answered ${committed.command}: a statement of the transaction had failed`);
      done = true;
      return result;
    } catch (err) {
      // Once COMMIT is sent the transaction ends with it (committed, or rolled back by PostgreSQL).
      const ended = await (ending ?? executor.end('ROLLBACK')).catch((endErr: Error) => void (broken = endErr));
      done = ending !== undefined && ended?.command === 'COMMIT';
      throw isUnavailable(err) ? new DatabaseUnavailableError(err) : err;
    } finally {
      state.open = false;
      // A client whose ROLLBACK failed is in an unknown state: destroy it instead of reusing it.
      client.release(broken);
      if (done) executor.committed((err) => this.logger.error({ err }, 'an after-commit callback failed'));
    }
  }

  /**
   * One statement in a transaction of its own whose COMMIT does not wait for the WAL to reach disk
   * (`synchronous_commit = off` for that transaction only). PostgreSQL's WAL is one sequence: the next
   * synchronous commit on the server flushes this write too, and a server crash before then loses it.
   * So only for a write whose loss in such a crash harms nothing: an idempotency key's claim (lost, it
   * is as if the request never came: a new request's phase 1, and any handler's own transaction, commit
   * synchronously before a provider is called or an answer leaves, and a retry that resumes from a
   * recovery point repeats a provider call under the provider key an earlier synchronous phase stored),
   * and the simulator's record of a charge (our transaction of the outcome commits synchronously before
   * the client hears of it; lost, the simulated charge never happened, and recovery finds no charge). Each
   * saves a wait for the disk, and the sleep and wake-up of a backend: see bench/README.md.
   */
  async commitWithoutFlush<R extends QueryResultRow = QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<R>> {
    // Joined to an outer transaction, SET LOCAL would make that whole transaction's commit unflushed.
    if (this.ambient.getStore()?.open) throw new Error('commitWithoutFlush() commits on its own: not inside a transaction');
    const { result } = await this.transaction(async (tx) => {
      tx.later(tx.query('SET LOCAL synchronous_commit = off'));
      const result = tx.query<R>(text, values) as Promise<QueryResult<R>>;
      tx.later(result);
      // Not awaited here: COMMIT leaves with the statement.
      return { result };
    });
    return result;
  }

  /**
   * Runs fn once the transaction this code runs in has committed (at once outside a transaction): what
   * other requests may only see from then on.
   */
  afterCommit(fn: () => void): void {
    const tx = this.ambient.getStore();
    if (tx?.open) tx.executor.afterCommit(fn);
    else fn();
  }

  /**
   * Runs fn outside the caller's transaction, if any: work a request starts that goes on after its
   * answer (a reconciliation run), whose statements must not join the request's transaction (an
   * Idempotency-Key's atomic mode) nor be refused once it has ended.
   */
  outsideTransaction<T>(fn: () => T): T {
    return this.ambient.exit(fn);
  }

  /**
   * Runs fn only if this instance wins the session-level advisory lock `name`: single-runner jobs
   * across instances. Returns undefined when another instance holds it.
   */
  async withAdvisoryLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    const client = await this.guard(() => this.pool.connect());
    let locked = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [name]);
      locked = rows[0].locked;
      return locked ? await fn() : undefined;
    } finally {
      if (locked) await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(() => undefined);
      client.release();
    }
  }

  /** True when in-use plus waiting connections exceed the shed threshold (default 80%) of the pool. */
  isUnderPressure(): boolean {
    const { total, idle, waiting, max } = this.stats();
    return (total - idle + waiting) / max > this.shedThreshold;
  }

  /** Throws 503 for non-critical work when the pool is under pressure: payments keep their connections. */
  assertCapacityForNonCriticalWork(): void {
    if (this.isUnderPressure()) throw new ServiceOverloadedError();
  }

  stats(): PoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount, max: this.pool.options.max ?? 0 };
  }

  async onApplicationBootstrap(): Promise<void> {
    const warning = await this.statisticsWarning().catch(() => null); // a startup check, never a reason not to start
    if (warning) this.logger.warn(warning);
  }

  /**
   * Statements run as prepared statements, planned once per connection (see prepared()). PostgreSQL plans
   * them again only when a table's statistics change, which autovacuum does as tables grow. Without it, a
   * plan made while a table was empty stays: a payment looked up through an index that leads with
   * merchant_id (every payment of the merchant walked) instead of its primary key.
   */
  async statisticsWarning(): Promise<string | null> {
    const { rows } = await this.reports.query<{ autovacuum: string }>('SHOW autovacuum');
    if (rows[0].autovacuum === 'on') return null;
    return 'PostgreSQL runs with autovacuum off: run ANALYZE after tables grow, or plans made while they were small stay (see README, Operations)';
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.pool.end(), this.reportPool.end()]);
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw isUnavailable(err) ? new DatabaseUnavailableError(err) : err;
    }
  }
}
