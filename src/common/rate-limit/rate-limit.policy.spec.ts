import { Controller, Get } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { Env, validateEnv } from '../../config/env';
import { RateLimit } from './rate-limit.decorator';
import { RateLimitPolicy } from './rate-limit.policy';

@Controller('plain')
class PlainController {
  @Get()
  list() {}

  @Get('validate')
  @RateLimit({ bucket: 'coupon-validate', perMinute: (config) => config.get('COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE', { infer: true }) })
  validate() {}
}

@Controller('strict')
@RateLimit({ bucket: 'strict', perMinute: 4 })
class StrictController {
  @Get()
  list() {}

  @Get('looser')
  @RateLimit({ bucket: 'looser', perMinute: 1000 })
  looser() {}
}

describe('RateLimitPolicy (which budget a route counts against)', () => {
  const env = validateEnv({ RATE_LIMIT_PER_MINUTE: '7', COUPON_VALIDATE_RATE_LIMIT_PER_MINUTE: '3' });
  const policy = new RateLimitPolicy(new Reflector(), new ConfigService<Env, true>({ ...env }));

  it('gives an undecorated route the default budget, RATE_LIMIT_PER_MINUTE', () => {
    expect(policy.limitFor(PlainController.prototype.list, PlainController)).toEqual({ bucket: 'default', perMinute: 7 });
  });

  it('gives a decorated route its own bucket, with a limit read from the configuration', () => {
    expect(policy.limitFor(PlainController.prototype.validate, PlainController)).toEqual({ bucket: 'coupon-validate', perMinute: 3 });
  });

  it('applies a controller-level limit to its routes, and a handler-level one wins over it', () => {
    expect(policy.limitFor(StrictController.prototype.list, StrictController)).toEqual({ bucket: 'strict', perMinute: 4 });
    expect(policy.limitFor(StrictController.prototype.looser, StrictController)).toEqual({ bucket: 'looser', perMinute: 1000 });
  });

  it('documents the 429 in the OpenAPI metadata of a decorated route', () => {
    const responses = Reflect.getMetadata('swagger/apiResponse', PlainController.prototype.validate) as Record<string, unknown>;
    expect(Object.keys(responses)).toContain('429');
  });

  it('refuses bad options when the route is declared, or when a configured limit is not a positive integer', () => {
    expect(() => RateLimit({ bucket: 'default', perMinute: 5 })).toThrow(/bucket 'default'/);
    expect(() => RateLimit({ bucket: 'Has Spaces', perMinute: 5 })).toThrow(/bucket 'Has Spaces'/);
    expect(() => RateLimit({ bucket: 'zero', perMinute: 0 })).toThrow(/positive integer/);
    expect(() => RateLimit({ bucket: 'fraction', perMinute: 2.5 })).toThrow(/positive integer/);

    class Broken {
      @RateLimit({ bucket: 'broken', perMinute: () => Number.NaN })
      route() {}
    }
    expect(() => policy.limitFor(Broken.prototype.route, Broken)).toThrow(/bucket 'broken' needs a positive integer perMinute, got NaN/);
  });
});
