import type { IncomingMessage } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { assignRequestId } from './common/logging';
import { ValidationFailedError } from './common/errors/domain-errors';
import { assertNoNullBytes, clientErrorHandler, frameworkErrors, jsonNestsDeeperThan, MAX_JSON_DEPTH } from './common/input-safety';
import { securityHeaders } from './common/security-headers';
import { createValidationPipe } from './common/validation';
import { trustProxySetting, validateEnv } from './config/env';
import { registerWebAssets } from './hosted/web-pages';
import { MetricsService } from './metrics/metrics.service';

/**
 * Builds the HTTP application: main.ts and every test app call this, so tests exercise the same
 * pipeline as production. `overrides` win over process.env (main.ts: the embedded database URL;
 * tests: per-instance settings). Fastify, for throughput: see bench/README.md.
 */
export async function createApp(overrides: Record<string, string> = {}): Promise<NestFastifyApplication> {
  const env = validateEnv({ ...process.env, ...overrides });
  const bodyLimit = parseSize(env.BODY_LIMIT);
  const adapter = new FastifyAdapter({
    bodyLimit,
    // A request (headers and body) must arrive within REQUEST_TIMEOUT_MS: a body that trickles in is cut
    // with a 408. Node checks running requests every connectionsCheckingInterval (30 s by default).
    requestTimeout: env.REQUEST_TIMEOUT_MS,
    http: {
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(env.REQUEST_TIMEOUT_MS / 4))),
      headersTimeout: Math.min(60_000, env.REQUEST_TIMEOUT_MS),
    },
    clientErrorHandler,
    frameworkErrors,
    trustProxy: trustProxySetting(env.TRUST_PROXY),
    // X-Request-Id: accepted when well-formed, generated otherwise; echoed by the onRequest hook below.
    genReqId: (req: IncomingMessage) => assignRequestId(req),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(env), adapter, { rawBody: true, bufferLogs: true });
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  const headers = securityHeaders();
  // Our own JSON parser (Nest still keeps req.rawBody for webhook signatures): the nesting is measured on
  // the raw bytes before anything is parsed. Registering a parser stops Nest from adding its own two, so
  // the urlencoded one (Segpay postbacks) is registered here as well.
  const defaultJsonParser = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (req, body, done) => {
    if (jsonNestsDeeperThan(body, MAX_JSON_DEPTH)) {
      done(
        new ValidationFailedError(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`, undefined, 'body_too_deep'),
        undefined,
      );
      return;
    }
    defaultJsonParser(req, body as unknown as string, done); // it reads a Buffer too (Nest passes one)
  });
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit }, (_req, body, done) =>
    done(null, parseQueryString(body.toString())),
  );
  fastify.addHook('preValidation', (request, _reply, done) => {
    try {
      assertNoNullBytes(request);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
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
  await registerWebAssets(app);

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
