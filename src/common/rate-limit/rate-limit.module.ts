import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimitCleanupJob } from './rate-limit-cleanup.job';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimitPolicy } from './rate-limit.policy';
import { RateLimitRepository } from './rate-limit.repository';

/**
 * General rate limiting shared by every instance (PostgreSQL counters). Its APP_GUARD must run after
 * ApiKeyGuard, which needs this module imported after AuthModule in AppModule (Nest applies global
 * guards in module registration order). Routes opt into their own limit with @RateLimit().
 */
@Module({
  providers: [RateLimitRepository, RateLimitPolicy, RateLimitCleanupJob, { provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class RateLimitModule {}
