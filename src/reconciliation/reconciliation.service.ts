import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import type { Env } from '../config/env';
import { DomainError, NotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import { newId } from '../common/ids';
import { toPage, type Page, type PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import { OutboxRepository } from '../events/outbox.repository';
import type { ProviderId } from '../payments/providers/payment-provider';
import { ProviderRegistry } from '../payments/providers/provider-registry';
import { ReconciliationHealing } from './reconciliation-healing';
import { ReconciliationRepository, type DiscrepancyFilter } from './reconciliation.repository';
import type { Discrepancy, ReconciliationRun } from './reconciliation.types';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What the API shows (the merchant stays inside). */
function view<T extends { merchantId: string }>(row: T): Omit<T, 'merchantId'> {
  const { merchantId: _merchantId, ...shown } = row;
  return shown;
}

/** The previous UTC day before `now`: the nightly run's window, and a manual run's default. */
export function previousUtcDay(now: Date): { from: Date; to: Date } {
  const to = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
  return { from: new Date(to.getTime() - DAY_MS), to };
}

/**
 * Reconciliation runs: what a provider holds for a window is staged page by page, matched to our
 * payments in SQL (ReconciliationRepository.match), and every new discrepancy is recorded with
 * `reconciliation.discrepancy` and money no payment accounts for booked to suspense, in the same
 * transaction; then the safe ones heal (ReconciliationHealing: a lost success or refund webhook).
 * One run per merchant and provider at a time, across instances (advisory lock); the nightly job has
 * one runner across instances and skips windows already completed.
 */
@Injectable()
export class ReconciliationService implements OnModuleInit {
  private readonly logger = new Logger(ReconciliationService.name);

  constructor(
    private readonly runs: ReconciliationRepository,
    private readonly registry: ProviderRegistry,
    private readonly healing: ReconciliationHealing,
    private readonly outbox: OutboxRepository,
    private readonly db: DatabaseService,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: ConfigService<Env, true>,
  ) {}

  onModuleInit(): void {
    if (!this.config.get('JOBS_ENABLED', { infer: true })) return;
    const job = CronJob.from({
      cronTime: this.config.get('RECONCILIATION_CRON', { infer: true }),
      onTick: () => void this.runNightly().catch((err) => this.logger.error({ err }, 'nightly reconciliation failed')),
      timeZone: 'UTC',
    });
    this.scheduler.addCronJob('reconciliation', job);
    job.start();
  }

  /**
   * Starts a run per provider (the given one, or every configured provider that can list its records)
   * for the window (default: the previous UTC day) and answers once they are recorded; they go on in
   * the background. 409 while the same merchant's run of that provider is still going.
   */
  async start(merchantId: string, input: { provider?: ProviderId; from?: Date; to?: Date }, now = new Date()) {
    const window = { ...previousUtcDay(now), ...(input.from ? { from: input.from } : {}), ...(input.to ? { to: input.to } : {}) };
    if (window.from >= window.to) throw new ValidationFailedError('`from` must be before `to`.', 'from');
    const providers = input.provider ? [input.provider] : this.listable();
    if (input.provider && !this.listable().includes(input.provider)) {
      throw new DomainError('invalid_request', 'provider_not_reconcilable', `Provider '${input.provider}' cannot list its records.`, {
        param: 'provider',
      });
    }
    const started: ReconciliationRun[] = [];
    for (const provider of providers) {
      const run = await this.begin(merchantId, provider, window);
      if (!run) throw new DomainError('conflict', 'reconciliation_running', `A ${provider} reconciliation is already running.`);
      started.push(run);
    }
    return started.length === 1 ? view(started[0]) : { data: started.map(view) };
  }

  /** The nightly job: the previous UTC day, every merchant and listable provider; undefined when another runner has it. */
  async runNightly(now = new Date()): Promise<ReconciliationRun[] | undefined> {
    return this.db.withAdvisoryLock('paybridge:reconciliation-nightly', async () => {
      const window = previousUtcDay(now);
      const done: ReconciliationRun[] = [];
      for (const merchantId of await this.runs.merchantIds()) {
        for (const provider of this.listable()) {
          if (await this.runs.hasCompleted(merchantId, provider, window.from, window.to)) continue;
          const run = await this.locked(merchantId, provider, async () => this.execute(await this.create(merchantId, provider, window)));
          if (run) done.push(run);
        }
      }
      return done;
    });
  }

  async getRun(merchantId: string, id: string) {
    const run = await this.runs.findRun(merchantId, id);
    if (!run) throw new NotFoundError('reconciliation run', id);
    return view(run);
  }

  async listRuns(merchantId: string, page: PageRequest): Promise<Page<Omit<ReconciliationRun, 'merchantId'>>> {
    const found = toPage(await this.runs.listRuns(merchantId, page), page);
    return { ...found, data: found.data.map(view) };
  }

  async listDiscrepancies(
    merchantId: string,
    filter: DiscrepancyFilter,
    page: PageRequest,
  ): Promise<Page<Omit<Discrepancy, 'merchantId'>>> {
    const found = toPage(await this.runs.listDiscrepancies(merchantId, filter, page), page);
    return { ...found, data: found.data.map(view) };
  }

  /** An admin closes an open discrepancy with a note (what was done about it). */
  async resolve(merchantId: string, id: string, note: string) {
    const resolved = await this.runs.setStatus(merchantId, id, 'open', 'resolved', note);
    if (resolved) return view(resolved);
    const existing = await this.runs.findDiscrepancy(merchantId, id);
    if (!existing) throw new NotFoundError('discrepancy', id);
    throw new DomainError('conflict', 'discrepancy_not_open', `Discrepancy ${id} is ${existing.status}.`);
  }

  /** Providers whose adapter lists what it holds (listTransactions). */
  private listable(): ProviderId[] {
    return this.registry.ids().filter((id) => typeof this.registry.get(id).listTransactions === 'function');
  }

  private lockName(merchantId: string, provider: ProviderId): string {
    return `paybridge:reconciliation:${merchantId}:${provider}`;
  }

  private locked<T>(merchantId: string, provider: ProviderId, fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.withAdvisoryLock(this.lockName(merchantId, provider), fn);
  }

  /** Called under the run's lock: a run still marked running was killed mid-way, and ends failed first. */
  private async create(merchantId: string, provider: ProviderId, window: { from: Date; to: Date }): Promise<ReconciliationRun> {
    if (await this.runs.failInterrupted(merchantId, provider))
      this.logger.warn({ merchantId, provider }, 'interrupted reconciliation runs failed');
    return this.runs.createRun({ id: newId('rr'), merchantId, provider, ...window });
  }

  /**
   * Takes the run's lock and records the run, then answers it while the run goes on under the lock.
   * Undefined when the lock is held (the same run is going elsewhere).
   */
  private begin(merchantId: string, provider: ProviderId, window: { from: Date; to: Date }): Promise<ReconciliationRun | undefined> {
    return new Promise((resolve, reject) => {
      let answered = false;
      // The run outlives the request: its statements never join the request's transaction.
      this.db
        .outsideTransaction(() =>
          this.locked(merchantId, provider, async () => {
            const run = await this.create(merchantId, provider, window);
            answered = true;
            resolve(run);
            await this.execute(run);
          }),
        )
        .then(
          () => answered || resolve(undefined),
          (err: unknown) => (answered ? this.logger.error({ err }, 'reconciliation run failed') : reject(err)),
        );
    });
  }

  /** Stages the provider's pages, matches, records and heals; the run ends completed or failed, never running. */
  private async execute(run: ReconciliationRun): Promise<ReconciliationRun> {
    // Each page is staged while the provider lists the next: at most two pages in memory. A listing that
    // fails waits for the page still being staged before the staging is cleared (else it lands after).
    let staging: Promise<void> = Promise.resolve();
    try {
      const provider = this.registry.get(run.provider);
      if (!provider.listTransactions) throw new Error(`${run.provider} cannot list its records`);
      const started = Date.now();
      for await (const page of provider.listTransactions({ from: run.from, to: run.to, merchantId: run.merchantId })) {
        await staging;
        staging = this.runs.stage(run.id, page);
        staging.catch(() => undefined); // awaited above or below
      }
      await staging;
      await this.runs.analyzeStaging();
      const staged = Date.now();
      const result = await this.db.transaction(async (tx) => {
        const matched = await this.runs.match(run, tx);
        await this.outbox.insert(
          matched.found.map((d) => ({
            merchantId: run.merchantId,
            type: 'reconciliation.discrepancy' as const,
            aggregateType: 'reconciliation' as const,
            aggregateId: d.id,
            data: view(d),
          })),
          tx,
        );
        await this.healing.bookToSuspense(tx, run, matched.found);
        return matched;
      });
      const matched = Date.now();
      const healed = await this.healing.heal(run, result.found);
      await this.runs.clearStaging(run.id);
      const phases = { listAndStageMs: staged - started, matchMs: matched - staged, healAndClearMs: Date.now() - matched };
      this.logger.log({ runId: run.id, checked: result.checked, ...phases }, 'reconciliation run completed');
      return await this.runs.finishRun(run.merchantId, run.id, {
        status: 'completed',
        checked: result.checked,
        matched: result.matched,
        discrepancies: result.found.length,
        healed,
      });
    } catch (err) {
      this.logger.error({ err, runId: run.id }, 'reconciliation run failed');
      await staging.catch(() => undefined);
      await this.runs.clearStaging(run.id).catch(() => undefined);
      return this.runs.finishRun(run.merchantId, run.id, { status: 'failed', error: (err as Error).message });
    }
  }
}
