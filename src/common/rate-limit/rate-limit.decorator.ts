import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { AppConfig } from '../../config/config.module';
import { ApiErrorResponse } from '../openapi';

export const RATE_LIMIT = 'paybridge:rate-limit';

/** The budget every route called with a publishable or secret key counts against (RATE_LIMIT_PER_MINUTE). */
export const DEFAULT_RATE_LIMIT_BUCKET = 'default';

const BUCKET_NAME = /^[a-z0-9][a-z0-9_.:-]{0,62}$/;

export interface RateLimitOptions {
  /**
   * Names the route's own budget, counted per API key and client address apart from the default one.
   * Routes that name the same bucket share one count.
   */
  bucket: string;
  /** Requests per minute, or how to read them from the configuration (resolved per request). */
  perMinute: number | ((config: AppConfig) => number);
}

/**
 * Gives a route (or every route of a controller) its own limit instead of RATE_LIMIT_PER_MINUTE, e.g.
 * `@RateLimit({ bucket: 'coupon-validate', perMinute: (config) => config.get('COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE', { infer: true }) })`.
 * The route's requests then count only against that bucket. Admin keys and @Public() routes stay unlimited.
 */
export function RateLimit(options: RateLimitOptions) {
  if (!BUCKET_NAME.test(options.bucket) || options.bucket === DEFAULT_RATE_LIMIT_BUCKET) {
    throw new Error(`@RateLimit: bucket '${options.bucket}' must match ${BUCKET_NAME} and not be '${DEFAULT_RATE_LIMIT_BUCKET}'`);
  }
  if (typeof options.perMinute === 'number') assertPerMinute(options.bucket, options.perMinute);
  return applyDecorators(
    SetMetadata(RATE_LIMIT, options),
    ApiResponse({ status: 429, description: 'Rate limited (Retry-After: seconds until the window ends)', type: ApiErrorResponse }),
  );
}

export function assertPerMinute(bucket: string, perMinute: unknown): asserts perMinute is number {
  if (typeof perMinute !== 'number' || !Number.isSafeInteger(perMinute) || perMinute < 1) {
    throw new Error(`@RateLimit: bucket '${bucket}' needs a positive integer perMinute, got ${String(perMinute)}`);
  }
}
