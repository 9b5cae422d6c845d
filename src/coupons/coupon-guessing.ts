import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AuthContext } from '../auth/auth.types';
import { clientAddressKey } from '../common/rate-limit/client-address';
import { RateLimitExceededError } from '../common/rate-limit/rate-limit.guard';
import { RateLimitRepository, RateLimitSubject } from '../common/rate-limit/rate-limit.repository';
import type { Env } from '../config/env';
import { CouponError } from './coupon-rules';

/** The bucket of POST /coupons/validate: every route that takes a coupon code counts unknown codes in it. */
export const COUPON_GUESSING_BUCKET = 'coupon-validate';

/**
 * The guessing limit of coupon codes (COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE per API key and client
 * address), for routes that take a `couponCode` but have another rate limit (checkout, process):
 * otherwise a guesser would simply try codes there. Same counter as /coupons/validate, so attempts
 * through any route add up. A route refuses any coupon code, known or not, once the count is spent
 * (else a refusal for unknown codes only would tell which codes exist), and counts a code that turned
 * out unknown; the request that goes past the limit answers 429 like validate, instead of its 422.
 */
@Injectable()
export class CouponGuessingLimit {
  constructor(
    private readonly counters: RateLimitRepository,
    private readonly config: ConfigService<Env, true>,
  ) {}

  async check<T>(caller: AuthContext, ip: string | null | undefined, couponCode: string | undefined, work: () => Promise<T>): Promise<T> {
    // Admin keys are not rate limited anywhere.
    if (couponCode === undefined || caller.kind === 'admin') return work();
    const subject: RateLimitSubject = {
      merchantId: caller.merchantId,
      bucket: COUPON_GUESSING_BUCKET,
      apiKeyId: caller.keyId,
      clientIp: clientAddressKey(ip ?? undefined),
    };
    const limit = this.config.get('COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE', { infer: true });
    const seen = await this.counters.peek(subject);
    if (seen.count >= limit) throw refusal(seen.resetMs);
    try {
      return await work();
    } catch (err) {
      if (err instanceof CouponError && err.code === 'coupon_not_found') {
        const taken = await this.counters.takeOne(subject);
        if (taken.count > limit) throw refusal(taken.resetMs);
      }
      throw err;
    }
  }
}

function refusal(resetMs: number): RateLimitExceededError {
  return new RateLimitExceededError(Math.max(1, Math.ceil(resetMs / 1000)));
}
