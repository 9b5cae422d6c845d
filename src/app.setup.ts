import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { assignRequestId } from './common/logging';
import { securityHeaders } from './common/security-headers';
import { createValidationPipe } from './common/validation';
import { trustProxySetting, validateEnv } from './config/env';
import { MetricsService } from './metrics/metrics.service';

/**
 * Builds the HTTP application: main.ts and every test app call this, so tests exercise the same
 * pipeline as production. `overrides` win over process.env (main.ts: the embedded database URL;
 * tests: per-instance settings). Fastify, for throughput: see bench/README.md.
 */
export async function createApp(overrides: Record<string, string> = {}): Promise<NestFastifyApplication> {
  const env = validateEnv({ ...process.env, ...overrides });
  const adapter = new FastifyAdapter({
    bodyLimit: parseSize(env.BODY_LIMIT),
    trustProxy: trustProxySetting(env.TRUST_PROXY),
    // X-Request-Id: accepted when well-formed, generated otherwise; echoed by the onRequest hook below.
    genReqId: (req: IncomingMessage) => assignRequestId(req),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(env), adapter, { rawBody: true, bufferLogs: true });
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  const headers = securityHeaders();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    headers(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
  });
  app.get(MetricsService).observe(fastify);
  if (env.CORS_ORIGINS) {
    app.enableCors({
      origin: env.CORS_ORIGINS === '*' ? true : env.CORS_ORIGINS.split(',').map((o) => o.trim()),
      allowedHeaders: ['Content-Type', 'X-Api-Key', 'Idempotency-Key', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Idempotent-Replayed', 'Retry-After'],
    });
  }
  app.useGlobalPipes(createValidationPipe());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Paybridge')
      .setDescription('Payment API: checkout, direct charges, refunds, catalog. Contract: docs/API.md in the repository.')
      .setVersion('1')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}

/** "1mb", "512kb", "2048" → bytes. */
export function parseSize(size: string): number {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(size.trim());
  if (!match) throw new Error(`BODY_LIMIT: cannot read size '${size}'`);
  const unit = (match[2] ?? 'b').toLowerCase();
  return Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}
