import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { IdempotencyRepository } from './idempotency.repository';

const BATCH = 5000;

/** Keys are kept IDEMPOTENCY_TTL_HOURS (24 h); expired ones are deleted in small batches every hour. */
@Injectable()
export class IdempotencyCleanupJob {
  private readonly logger = new Logger(IdempotencyCleanupJob.name);

  constructor(private readonly keys: IdempotencyRepository) {}

  @Cron(CronExpression.EVERY_HOUR, { name: 'idempotency-cleanup' })
  async run(): Promise<number> {
    let total = 0;
    for (let deleted = BATCH; deleted === BATCH; total += deleted) {
      deleted = await this.keys.deleteExpired(BATCH);
    }
    if (total > 0) this.logger.log({ deleted: total }, 'expired idempotency keys deleted');
    return total;
  }
}
