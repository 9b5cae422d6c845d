import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { RateLimitRepository } from './rate-limit.repository';

/**
 * Counters live one minute: every instance deletes the ended windows once a minute. No lock is needed:
 * an ended window is not counted in again, and a second instance's DELETE finds nothing left.
 */
@Injectable()
export class RateLimitCleanupJob {
  private readonly logger = new Logger(RateLimitCleanupJob.name);

  constructor(private readonly counters: RateLimitRepository) {}

  @Interval('rate-limit-cleanup', 60_000)
  async run(): Promise<number> {
    try {
      return await this.counters.deleteEndedWindows();
    } catch (err) {
      this.logger.warn({ err }, 'rate limit counters cleanup failed; next attempt in a minute');
      return 0;
    }
  }
}
