import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { Env } from '../../config/env';
import { assertPerMinute, DEFAULT_RATE_LIMIT_BUCKET, RATE_LIMIT, RateLimitOptions } from './rate-limit.decorator';

export interface RouteRateLimit {
  bucket: string;
  perMinute: number;
}

/** Which budget a route counts against: its own @RateLimit (handler first, then controller), else the default. */
@Injectable()
export class RateLimitPolicy {
  private readonly fallback: RouteRateLimit;

  constructor(
    private readonly reflector: Reflector,
    private readonly config: ConfigService<Env, true>,
  ) {
    this.fallback = { bucket: DEFAULT_RATE_LIMIT_BUCKET, perMinute: config.get('RATE_LIMIT_PER_MINUTE', { infer: true }) };
  }

  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  limitFor(handler: Function, controller: Function): RouteRateLimit {
    const options = this.reflector.getAllAndOverride<RateLimitOptions | undefined>(RATE_LIMIT, [handler, controller]);
    if (!options) return this.fallback;
    const perMinute = typeof options.perMinute === 'function' ? options.perMinute(this.config) : options.perMinute;
    assertPerMinute(options.bucket, perMinute);
    return { bucket: options.bucket, perMinute };
  }
}
