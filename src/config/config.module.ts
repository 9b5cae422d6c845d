import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Env, validateEnv } from './env';

export type AppConfig = ConfigService<Env, true>;

/**
 * @nestjs/config, validated at boot by `validateEnv`. `overrides` win over process.env: main.ts passes
 * the embedded database URL this way, tests pass per-instance settings.
 */
@Module({})
export class AppConfigModule {
  static register(overrides: Record<string, string> = {}): DynamicModule {
    return {
      module: AppConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          cache: false,
          validate: (raw) => ({ ...validateEnv({ ...raw, ...overrides }) }),
        }),
      ],
    };
  }
}
