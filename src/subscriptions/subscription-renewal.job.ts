import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Env } from '../config/env';
import { SubscriptionRenewals } from './subscription-renewals';

/**
 * Every SUBSCRIPTION_RENEWAL_INTERVAL_MS, on every instance: the renewal steps due (SubscriptionRenewals).
 * Instances share the work through the claims (FOR UPDATE SKIP LOCKED), no single runner.
 */
@Injectable()
export class SubscriptionRenewalJob implements OnModuleInit {
  private readonly logger = new Logger(SubscriptionRenewalJob.name);
  private running = false;

  constructor(
    private readonly renewals: SubscriptionRenewals,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: ConfigService<Env, true>,
  ) {}

  onModuleInit(): void {
    if (!this.config.get('JOBS_ENABLED', { infer: true })) return;
    const every = this.config.get('SUBSCRIPTION_RENEWAL_INTERVAL_MS', { infer: true });
    this.scheduler.addInterval(
      'subscription-renewals',
      setInterval(() => void this.tick(), every),
    );
  }

  private async tick(): Promise<void> {
    if (this.running) return; // this instance's previous run is still going
    this.running = true;
    try {
      await this.renewals.runDue(null);
    } catch (err) {
      this.logger.error({ err }, 'subscription renewal run failed');
    } finally {
      this.running = false;
    }
  }
}
