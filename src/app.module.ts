import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule } from 'nestjs-pino';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { CacheModule } from './common/cache/cache.module';
import { ClockModule } from './common/clock/clock.module';
import { ApiExceptionFilter } from './common/errors/api-exception.filter';
import { IdempotencyModule } from './common/idempotency/idempotency.module';
import { pinoParams } from './common/logging';
import { AppConfigModule } from './config/config.module';
import type { Env } from './config/env';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { ProductsModule } from './products/products.module';
import { CustomersModule } from './customers/customers.module';
import { CustomersApiModule } from './customers/customers-api.module';
import { SubscriptionsModule } from './subscriptions/subscriptions.module';
import { DisputesModule } from './disputes/disputes.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { EventsModule } from './events/events.module';
import { LedgerModule } from './ledger/ledger.module';
import { PaymentsModule } from './payments/payments.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { RateLimitModule } from './common/rate-limit/rate-limit.module';
import { CouponsModule } from './coupons/coupons.module';
import { FraudModule } from './fraud/fraud.module';
import { FxModule } from './fx/fx.module';
import { GiftCardsModule } from './gift-cards/gift-cards.module';
import { GiftCardsStoreModule } from './gift-cards/gift-cards-store.module';
import { HostedModule } from './hosted/hosted.module';

@Module({})
export class AppModule {
  /** The whole application, configured by an Env validated at boot (createApp, CLIs). */
  static register(env: Env): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.register(env),
        LoggerModule.forRoot(pinoParams(env.LOG_LEVEL)),
        ScheduleModule.forRoot(),
        DatabaseModule,
        CacheModule,
        ClockModule,
        MetricsModule,
        AuthModule,
        IdempotencyModule,
        HealthModule,
        AdminModule,
        ProductsModule,
        CustomersModule,
        FraudModule,
        FxModule,
        GiftCardsStoreModule,
        LedgerModule,
        EventsModule,
        PaymentsModule,
        DisputesModule,
        ReconciliationModule,
        WebhooksModule,
        RateLimitModule,
        CouponsModule,
        GiftCardsModule,
        CustomersApiModule,
        SubscriptionsModule,
        HostedModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ApiExceptionFilter }],
    };
  }
}
