import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Env } from '../../config/env';
import { DatabaseService } from '../../database/database.service';
import { PaymentOutcomes } from '../outcomes/payment-outcomes';
import { ProviderRegistry } from '../providers/provider-registry';
import { SettlementsRepository, type SettlementDue } from './settlements.repository';

const BATCH = 100;

/**
 * The settlement job: asks each provider about its succeeded charges whose settlement is due
 * (settlement_check_at): the fee of one whose charge answer did not report it, and whether a pending
 * settlement has become available once its day has passed. What it learns goes through
 * PaymentOutcomes.settle (the fee booked once). Every instance may run it: each claims its own rows
 * (SKIP LOCKED) and pushes their next check on, so a provider that does not answer is asked again
 * SETTLEMENT_RETRY_SECONDS later; no transaction is held while a provider is asked.
 */
@Injectable()
export class SettlementJob implements OnModuleInit {
  private readonly logger = new Logger(SettlementJob.name);
  private readonly retrySeconds: number;

  constructor(
    private readonly settlements: SettlementsRepository,
    private readonly registry: ProviderRegistry,
    private readonly outcomes: PaymentOutcomes,
    private readonly db: DatabaseService,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: ConfigService<Env, true>,
  ) {
    this.retrySeconds = config.get('SETTLEMENT_RETRY_SECONDS', { infer: true });
  }

  onModuleInit(): void {
    if (!this.config.get('JOBS_ENABLED', { infer: true })) return;
    const every = this.config.get('SETTLEMENT_INTERVAL_MS', { infer: true });
    this.scheduler.addInterval(
      'payments-settlement',
      setInterval(() => void this.runOnce().catch((err) => this.logger.error({ err }, 'settlement failed')), every),
    );
  }

  /** One pass over every payment due at `now`: how many settlements it recorded. */
  async runOnce(now = new Date()): Promise<number> {
    let recorded = 0;
    for (;;) {
      const due = await this.settlements.claimDue(now, BATCH, this.retrySeconds);
      for (const payment of due) if (await this.settleOne(payment, now)) recorded++;
      if (due.length < BATCH) return recorded;
    }
  }

  private async settleOne(payment: SettlementDue, now: Date): Promise<boolean> {
    const provider = this.registry.has(payment.provider) ? this.registry.get(payment.provider) : null;
    if (!provider?.retrieveSettlement) {
      await this.settlements.stopChecking(payment.merchantId, payment.id);
      return false;
    }
    const settlement = await provider.retrieveSettlement(payment.providerRef).catch((err: unknown) => {
      this.logger.warn({ err, paymentId: payment.id, provider: payment.provider }, 'settlement not retrieved; asked again later');
      return null;
    });
    if (!settlement) return false;
    const checkAgainAt = new Date(now.getTime() + this.retrySeconds * 1000);
    return this.db.transaction((tx) => this.outcomes.settle(tx, payment, payment.provider, settlement, checkAgainAt));
  }
}
