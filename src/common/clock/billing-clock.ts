import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../../config/env';
import type { Executor } from '../../database/database.types';
import { NotFoundError } from '../errors/domain-errors';
import { BillingClockRepository } from './billing-clock.repository';

/**
 * The one clock billing time reads (periods, renewals, retries, grace, cancellations). Real time, unless
 * TEST_CLOCK_ENABLED=true: then each merchant's time runs ahead by an offset kept in the database, so
 * every instance reads the same time, and the admin test-clock route moves it forward (Kill Bill's
 * test clock). Time only moves forward.
 */
@Injectable()
export class BillingClock {
  readonly testClockEnabled: boolean;

  constructor(
    private readonly clocks: BillingClockRepository,
    config: ConfigService<Env, true>,
  ) {
    this.testClockEnabled = config.get('TEST_CLOCK_ENABLED', { infer: true });
  }

  /** The merchant's billing time now. Without the test clock: real time, no query. */
  async now(merchantId: string, executor?: Executor): Promise<Date> {
    if (!this.testClockEnabled) return new Date();
    return this.clocks.now(merchantId, executor);
  }

  /** Moves the merchant's billing time forward (the test clock only; 404 otherwise). */
  async advance(merchantId: string, seconds: number): Promise<Date> {
    this.assertTestClock();
    return this.clocks.advance(merchantId, seconds);
  }

  /** The test-clock routes answer 404 unless TEST_CLOCK_ENABLED=true. */
  assertTestClock(): void {
    if (!this.testClockEnabled) throw new NotFoundError('route', 'test-clock');
  }
}
