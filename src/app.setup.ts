import type { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { requestIdMiddleware } from './common/logging';
import { createValidationPipe } from './common/validation';
import type { Env } from './config/env';
import { MetricsService } from './metrics/metrics.service';

/**
 * Everything the HTTP application needs beyond its modules; main.ts and every test app call this, so
 * tests exercise the same pipeline as production. The app must be created with `rawBody: true`
 * (webhook signatures) and `bufferLogs: true`.
 */
export function configureApp(app: NestExpressApplication): INestApplication {
  const config = app.get<ConfigService<Env, true>>(ConfigService);
  app.useLogger(app.get(Logger));
  app.set('trust proxy', config.get('TRUST_PROXY', { infer: true }));
  app.use(requestIdMiddleware);
  app.useBodyParser('json', { limit: config.get('BODY_LIMIT', { infer: true }) });
  app.useBodyParser('urlencoded', { limit: config.get('BODY_LIMIT', { infer: true }), extended: false });
  app.use(app.get(MetricsService).httpMiddleware);
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:', 'https:'] } },
    }),
  );
  const origins = config.get('CORS_ORIGINS', { infer: true });
  if (origins) {
    app.enableCors({
      origin: origins === '*' ? true : origins.split(',').map((o) => o.trim()),
      allowedHeaders: ['Content-Type', 'X-Api-Key', 'Idempotency-Key', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Idempotent-Replayed', 'Retry-After'],
    });
  }
  app.useGlobalPipes(createValidationPipe());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Paybridge')
      .setDescription('Payment API: checkout, direct charges, refunds, catalog. Contract: API.md.')
      .setVersion('1')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
