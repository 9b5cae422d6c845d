// Over 400 lines on purpose: this is the one declaration of every environment variable, validated together
// (validateEnv names every bad one at once); splitting it would scatter defaults and checks across files.
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';

// Implicit conversion would turn the string "false" into true: read the raw value instead.
const toBoolean = ({ obj, key }: { obj: Record<string, unknown>; key: string }) => {
  const value = obj[key];
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
};
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/**
 * Every environment variable the application reads, with its default. `.env.example` documents the
 * same list; this class is the only place that interprets process.env.
 */
export class Env {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 3000;

  @IsString()
  HOST: string = '0.0.0.0';

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  DATABASE_URL?: string;

  @IsInt()
  @Min(2)
  @Max(500)
  DATABASE_POOL_MAX: number = 20;

  @IsInt()
  @Min(1)
  @Max(50)
  DATABASE_REPORT_POOL_MAX: number = 3;

  @IsInt()
  @Min(100)
  DATABASE_ACQUIRE_TIMEOUT_MS: number = 5000;

  @IsInt()
  @Min(100)
  DATABASE_STATEMENT_TIMEOUT_MS: number = 15000;

  @IsNumber()
  @Min(0.1)
  @Max(1)
  DATABASE_SHED_THRESHOLD: number = 0.8;

  @IsBoolean()
  @Transform(toBoolean)
  MIGRATE_ON_START: boolean = true;

  @IsString()
  PAYBRIDGE_DATA_DIR: string = '.data';

  @IsInt()
  @Min(0)
  @Max(65535)
  EMBEDDED_POSTGRES_PORT: number = 0;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  @IsString()
  CORS_ORIGINS: string = '';

  @IsString()
  BODY_LIMIT: string = '1mb';

  /** A request (headers and body) not fully received within this time is answered 408 and closed. */
  @IsInt()
  @Min(100)
  REQUEST_TIMEOUT_MS: number = 30000;

  /**
   * Which proxies' X-Forwarded-For to believe: `false` (none), `true` (every hop: only behind a proxy that
   * overwrites the header), a number of hops (`1`: the address the last proxy saw), or a comma-separated
   * list of proxy addresses/CIDRs.
   */
  @Matches(/^(true|false|\d{1,2}|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, {
    message: 'TRUST_PROXY must be true, false, a number of hops, or a comma-separated list of addresses/CIDRs',
  })
  TRUST_PROXY: string = 'false';

  @IsInt()
  @Min(1)
  IDEMPOTENCY_TTL_HOURS: number = 24;

  @IsInt()
  @Min(1)
  IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: number = 60;

  @IsInt()
  @Min(0)
  CACHE_TTL_SECONDS: number = 60;

  /** Base URL customers reach this API at (hosted simulator pages, 3-D Secure returns). Default: the listening address. */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  PUBLIC_URL?: string;

  /** Ordered providers per currency: `USD=stripe,simulator;BRL=mercadopago;*=simulator`. */
  @IsString()
  PROVIDER_ROUTING: string = '*=simulator';

  @IsInt()
  @Min(100)
  PROVIDER_TIMEOUT_MS: number = 10000;

  @IsInt()
  @Min(1)
  CHECKOUT_EXPIRY_HOURS: number = 24;

  /** A stored conversion rate (PUT /admin/fx-rates/:pair) older than this (by its asOf) is refused at pricing. */
  @IsInt()
  @Min(1)
  FX_MAX_AGE_HOURS: number = 24;

  /** The simulator provider: added latency after it has recorded a charge, an outage switch, its webhook secret. */
  @IsInt()
  @Min(0)
  SIMULATOR_LATENCY_MS: number = 0;

  @IsBoolean()
  @Transform(toBoolean)
  SIMULATOR_OUTAGE: boolean = false;

  @IsString()
  SIMULATOR_WEBHOOK_SECRET: string = 'whsec_simulator_dev';

  /** How long a refund of a tok_refundPending charge stays pending at the simulator. */
  @IsInt()
  @Min(0)
  SIMULATOR_REFUND_SETTLE_SECONDS: number = 30;

  /**
   * The simulator's fee on a charge: SIMULATOR_FEE_PERCENT of the amount (up to two decimals, read as
   * basis points, never as a float) rounded half up to a minor unit, plus SIMULATOR_FEE_FIXED minor
   * units, at most the amount. Its money becomes available SIMULATOR_AVAILABILITY_DAYS after the charge.
   */
  @IsString()
  @Matches(/^\d{1,2}(\.\d{1,2})?$/, { message: 'SIMULATOR_FEE_PERCENT must be a percentage with at most two decimals, e.g. 2.9' })
  SIMULATOR_FEE_PERCENT: string = '0';

  @IsInt()
  @Min(0)
  SIMULATOR_FEE_FIXED: number = 0;

  @IsInt()
  @Min(0)
  SIMULATOR_AVAILABILITY_DAYS: number = 0;

  /** The settlement job: how often it asks providers for fees and availability, and how long it waits before asking again. */
  @IsInt()
  @Min(100)
  SETTLEMENT_INTERVAL_MS: number = 60000;

  @IsInt()
  @Min(1)
  SETTLEMENT_RETRY_SECONDS: number = 3600;

  /** Recovery of payments left in processing (a crash or an unknown outcome): how often, and how old they must be. */
  @IsInt()
  @Min(100)
  RECOVERY_INTERVAL_MS: number = 10000;

  @IsInt()
  @Min(0)
  RECOVERY_MIN_AGE_SECONDS: number = 60;

  /** A payment waiting on the customer (3-D Secure) this long after creation is failed. */
  @IsInt()
  @Min(1)
  PAYMENT_PENDING_DEADLINE_HOURS: number = 72;

  /** Inbound webhook worker: poll interval and attempts before a dead letter. */
  @IsInt()
  @Min(50)
  WEBHOOK_WORKER_INTERVAL_MS: number = 1000;

  @IsInt()
  @Min(1)
  WEBHOOK_MAX_ATTEMPTS: number = 8;

  /** When the nightly reconciliation runs (cron syntax, UTC): the previous UTC day, every provider. */
  @IsString()
  RECONCILIATION_CRON: string = '0 3 * * *';

  /** Background jobs (recovery, expiry, webhook worker) can be switched off per instance. */
  @IsBoolean()
  @Transform(toBoolean)
  JOBS_ENABLED: boolean = true;

  // ---- Stripe (unset STRIPE_SECRET_KEY: Stripe is not configured and left out of routing) ----
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  STRIPE_SECRET_KEY?: string;

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  STRIPE_WEBHOOK_SECRET?: string;

  /** scheme://host:port of a Stripe-compatible API (the emulator); unset: Stripe itself. */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  STRIPE_API_BASE?: string;

  // ---- Mercado Pago ----
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  MERCADOPAGO_ACCESS_TOKEN?: string;

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  MERCADOPAGO_WEBHOOK_SECRET?: string;

  /** Base URL of a Mercado Pago-compatible API (the emulator); unset: Mercado Pago itself. */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  MERCADOPAGO_API_BASE?: string;

  // ---- Segpay (no SDK: hosted payment page, unsigned postbacks, SRS reporting API) ----
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  SEGPAY_MERCHANT_ID?: string;

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  SEGPAY_USER_ID?: string;

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  SEGPAY_API_KEY?: string;

  /** Default package and price point for one-time purchases (products may name their own). */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  SEGPAY_PACKAGE_ID?: string;

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  SEGPAY_PRICE_POINT_ID?: string;

  /** Base URL of the hosted payment page (…/billing/poset.cgi is appended). */
  @IsString()
  SEGPAY_PAYMENT_PAGE_BASE: string = 'https://secure2.segpay.com';

  /** Base URL of the SRS reporting/refund API. */
  @IsString()
  SEGPAY_API_BASE: string = 'https://srs.segpay.com';

  /** The secret path token of /webhooks/segpay/:token. */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  SEGPAY_POSTBACK_TOKEN?: string;

  /** Optional comma-separated allow-list of postback source IPs. */
  @IsString()
  SEGPAY_POSTBACK_IPS: string = '';

  // ---- Circuit breaker shared by every instance (PostgreSQL) ----
  @IsInt()
  @Min(1)
  CIRCUIT_FAILURE_THRESHOLD: number = 3;

  @IsInt()
  @Min(1)
  CIRCUIT_OPEN_SECONDS: number = 30;

  // ---- Rate limiting (shared by every instance through PostgreSQL) ----
  /** Requests per minute per API key and client IP on the public routes. */
  @IsInt()
  @Min(1)
  RATE_LIMIT_PER_MINUTE: number = 600;

  /** POST /coupons/validate: its own, stricter limit per key and IP. */
  @IsInt()
  @Min(1)
  COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE: number = 20;

  /**
   * How long an unpaid checkout holds a use of a coupon. After that the use is free again for
   * maxRedemptions (a customer who pays later still gets the discount shown).
   */
  @IsInt()
  @Min(1)
  COUPON_RESERVATION_MINUTES: number = 30;

  // ---- Fraud rules ----
  @IsBoolean()
  @Transform(toBoolean)
  FRAUD_ENABLED: boolean = true;

  /** Successful purchases per hour per client IP, card fingerprint and customer email (each unless set below). */
  @IsInt()
  @Min(1)
  FRAUD_MAX_PURCHASES_PER_HOUR: number = 3;

  @IsOptional()
  @IsInt()
  @Min(1)
  FRAUD_MAX_PURCHASES_PER_HOUR_PER_IP?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  FRAUD_MAX_PURCHASES_PER_HOUR_PER_CARD?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  FRAUD_MAX_PURCHASES_PER_HOUR_PER_EMAIL?: number;

  /** ISO 3166-1 alpha-2 codes, comma-separated. */
  @IsString()
  FRAUD_BLOCKED_COUNTRIES: string = 'KP,IR,SY';

  // ---- Gift cards ----
  @IsInt()
  @Min(1)
  GIFT_CARD_EXPIRY_DAYS: number = 365;

  @IsInt()
  @Min(0)
  GIFT_CARD_VOTE_MULTIPLIER: number = 10;

  // ---- Subscriptions and dunning ----
  /** Days after a renewal's first failure on which it is retried (comma-separated, ascending). */
  @Matches(/^\d{1,3}(,\d{1,3})*$/, { message: 'DUNNING_RETRY_DAYS must be comma-separated whole days, such as 1,3,7' })
  DUNNING_RETRY_DAYS: string = '1,3,7';

  /** Days after a renewal's first failure during which the subscription keeps its service (past_due). */
  @IsInt()
  @Min(0)
  @Max(365)
  DUNNING_GRACE_DAYS: number = 7;

  /** What a subscription becomes when retries and grace are spent. */
  @IsIn(['unpaid', 'cancel'])
  DUNNING_FINAL_ACTION: 'unpaid' | 'cancel' = 'unpaid';

  /** How often each instance's renewal job looks for due subscriptions. */
  @IsInt()
  @Min(1000)
  SUBSCRIPTION_RENEWAL_INTERVAL_MS: number = 60_000;

  /** Subscriptions claimed per statement by the renewal job. */
  @IsInt()
  @Min(1)
  @Max(1000)
  SUBSCRIPTION_RENEWAL_BATCH: number = 50;

  /** The test clock: billing time per merchant moved forward by POST /admin/test-clock/advance. Never in production. */
  @IsBoolean()
  @Transform(toBoolean)
  TEST_CLOCK_ENABLED: boolean = false;

  // ---- Outgoing events (the outbox relay and its sinks) ----
  /** How often an idle relay looks for due deliveries (it goes on at once while it finds work). */
  @IsInt()
  @Min(10)
  EVENT_RELAY_INTERVAL_MS: number = 500;

  /** Outbox rows fanned out, and deliveries claimed, per statement. */
  @IsInt()
  @Min(1)
  @Max(1000)
  EVENT_RELAY_BATCH: number = 100;

  /** Deliveries in flight at once on one instance, all sinks together. */
  @IsInt()
  @Min(1)
  @Max(1000)
  EVENT_RELAY_CONCURRENCY: number = 64;

  /** Seconds between attempts at a merchant endpoint, comma-separated; after the last, the delivery is dead. */
  @Matches(/^\d+(\s*,\s*\d+)*$/, { message: 'WEBHOOK_ENDPOINT_RETRY_SCHEDULE must be comma-separated whole seconds' })
  WEBHOOK_ENDPOINT_RETRY_SCHEDULE: string = '5,300,1800,7200,18000,36000,36000';

  @IsInt()
  @Min(100)
  WEBHOOK_ENDPOINT_TIMEOUT_MS: number = 15000;

  /** Deliveries in flight at once to one endpoint from one instance: a slow endpoint holds no more. */
  @IsInt()
  @Min(1)
  @Max(100)
  WEBHOOK_ENDPOINT_CONCURRENCY: number = 8;

  /** An endpoint failing this long without a single success is disabled. */
  @IsNumber()
  @Min(0)
  WEBHOOK_ENDPOINT_DISABLE_AFTER_DAYS: number = 5;

  /** Allows endpoint URLs on loopback and private networks (development and tests only). */
  @IsBoolean()
  @Transform(toBoolean)
  WEBHOOK_ALLOW_PRIVATE_TARGETS: boolean = false;

  /** RabbitMQ (`amqp://user:pass@host:5672`); unset: no broker sink. */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  AMQP_URL?: string;

  /** The durable topic exchange events are published to (routing key: the event type). */
  @IsString()
  @Matches(/^[A-Za-z0-9_.:-]{1,255}$/, { message: 'AMQP_EXCHANGE must be 1 to 255 letters, digits, or one of _ . : -' })
  AMQP_EXCHANGE: string = 'payments';

  /** The merchant's exchange whose `merchant.product.*` messages activate and deactivate products; unset: off. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]{1,255}$/, { message: 'AMQP_CONSUME_EXCHANGE must be 1 to 255 letters, digits, or one of _ . : -' })
  @Transform(emptyToUndefined)
  AMQP_CONSUME_EXCHANGE?: string;

  /** Our durable queue bound to that exchange (one per deployment: the instances share it). */
  @Matches(/^[A-Za-z0-9_.:-]{1,255}$/, { message: 'AMQP_CONSUME_QUEUE must be 1 to 255 letters, digits, or one of _ . : -' })
  AMQP_CONSUME_QUEUE: string = 'paybridge.merchant-products';

  // ---- Notification sinks (each off until configured) ----
  /** Seconds between attempts at a notification sink (Discord, Slack, Meta, email); after the last, dead. */
  @Matches(/^\d+(\s*,\s*\d+)*$/, { message: 'NOTIFY_RETRY_SCHEDULE must be comma-separated whole seconds' })
  NOTIFY_RETRY_SCHEDULE: string = '1,2,4';

  @IsInt()
  @Min(100)
  NOTIFY_TIMEOUT_MS: number = 10000;

  /** Discord incoming webhook: payment failures and successes as embeds; unset: no Discord sink. */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'DISCORD_WEBHOOK_URL must be an http(s) URL' })
  @Transform(emptyToUndefined)
  DISCORD_WEBHOOK_URL?: string;

  /** Slack incoming webhook: dead deliveries of the other sinks; unset: no Slack sink. */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'SLACK_WEBHOOK_URL must be an http(s) URL' })
  @Transform(emptyToUndefined)
  SLACK_WEBHOOK_URL?: string;

  /** Meta Conversions API: both set, a Purchase per succeeded payment. */
  @IsOptional()
  @Matches(/^\d{1,32}$/, { message: 'META_PIXEL_ID must be the numeric pixel (dataset) id' })
  @Transform(emptyToUndefined)
  META_PIXEL_ID?: string;

  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  META_ACCESS_TOKEN?: string;

  @Matches(/^https?:\/\/\S+[^/]$/, { message: 'META_API_BASE must be an http(s) URL without a trailing slash' })
  META_API_BASE: string = 'https://graph.facebook.com/v19.0';

  /** Sent as test_event_code: events show in Events Manager's test tab only. */
  @IsOptional()
  @IsString()
  @Transform(emptyToUndefined)
  META_TEST_EVENT_CODE?: string;

  /** SMTP server for customer email (`smtp://user:pass@host:587`, `smtps://…`); unset: no email sink. */
  @IsOptional()
  @Matches(/^smtps?:\/\/\S+$/, { message: 'SMTP_URL must be an smtp:// or smtps:// URL' })
  @Transform(emptyToUndefined)
  SMTP_URL?: string;

  @IsString()
  EMAIL_FROM: string = 'Paybridge <no-reply@paybridge.local>';
}

export class InvalidEnvironmentError extends Error {}

/** TRUST_PROXY as Fastify's `trustProxy` takes it. */
export function trustProxySetting(value: string): boolean | number | string[] {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((entry) => entry.trim());
}

/** Validates raw variables (strings) into a typed Env; throws naming every bad variable. */
export function validateEnv(raw: Record<string, unknown>): Env {
  const OPTIONAL = [
    'DATABASE_URL',
    'PUBLIC_URL',
    'STRIPE_SECRET_KEY',
    'STRIPE_WEBHOOK_SECRET',
    'STRIPE_API_BASE',
    'MERCADOPAGO_ACCESS_TOKEN',
    'MERCADOPAGO_WEBHOOK_SECRET',
    'MERCADOPAGO_API_BASE',
    'SEGPAY_MERCHANT_ID',
    'SEGPAY_USER_ID',
    'SEGPAY_API_KEY',
    'SEGPAY_PACKAGE_ID',
    'SEGPAY_PRICE_POINT_ID',
    'SEGPAY_POSTBACK_TOKEN',
    'FRAUD_MAX_PURCHASES_PER_HOUR_PER_IP',
    'FRAUD_MAX_PURCHASES_PER_HOUR_PER_CARD',
    'FRAUD_MAX_PURCHASES_PER_HOUR_PER_EMAIL',
    'AMQP_URL',
    'AMQP_CONSUME_EXCHANGE',
  ];

  const known = Object.keys(new Env()).concat(OPTIONAL);
  // `NAME=` for a variable without a default (as .env.example lists them) means unset, not "" or 0.
  const picked = Object.fromEntries(
    Object.entries(raw).filter(([k, v]) => known.includes(k) && v !== undefined && !(v === '' && OPTIONAL.includes(k))),
  );
  const env = plainToInstance(Env, picked, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(env, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const lines = errors.map((e) => `${e.property}=${JSON.stringify(e.value)}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new InvalidEnvironmentError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return env;
}

/** process.env plus a `.env` file in the working directory (process.env wins). */
export function readProcessEnv(): Record<string, string | undefined> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return process.env;
}
