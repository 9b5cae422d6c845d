import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Env } from '../config/env';
import { DatabaseService } from '../database/database.service';
import { GiftCardsService } from './gift-cards.service';

/** Hourly, one runner across instances: cards past their expiry lose what is left. */
@Injectable()
export class GiftCardExpiryJob implements OnModuleInit {
  private readonly logger = new Logger(GiftCardExpiryJob.name);

  constructor(
    private readonly giftCards: GiftCardsService,
    private readonly db: DatabaseService,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: ConfigService<Env, true>,
  ) {}

  onModuleInit(): void {
    if (!this.config.get('JOBS_ENABLED', { infer: true })) return;
    this.scheduler.addInterval(
      'gift-card-expiry',
      setInterval(() => void this.run().catch((err) => this.logger.error({ err }, 'gift card expiry failed')), 3_600_000),
    );
  }

  /** The number of cards expired, or undefined when another instance held the job (one runner at a time). */
  run(): Promise<number | undefined> {
    return this.db.withAdvisoryLock('paybridge:gift-card-expiry', () => this.giftCards.expireDue());
  }
}
