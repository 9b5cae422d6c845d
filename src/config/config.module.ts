import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { Env } from './env';

export type AppConfig = ConfigService<Env, true>;

/**
 * @nestjs/config serving an Env already validated at boot (validateEnv in AppModule.register).
 * Nothing is read from or written back to process.env here, so that several instances in one process
 * (the tests) keep their own settings.
 */
@Module({})
export class AppConfigModule {
  static register(env: Env): DynamicModule {
    return {
      module: AppConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          validatePredefined: false,
          skipProcessEnv: true,
          load: [() => ({ ...env })],
        }),
      ],
    };
  }
}
