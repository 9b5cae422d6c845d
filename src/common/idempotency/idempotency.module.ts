import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { IdempotencyCleanupJob } from './idempotency-cleanup.job';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { Phases } from './phased-operation';

@Global()
@Module({
  providers: [IdempotencyRepository, Phases, IdempotencyCleanupJob, { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor }],
  exports: [IdempotencyRepository, Phases],
})
export class IdempotencyModule {}
