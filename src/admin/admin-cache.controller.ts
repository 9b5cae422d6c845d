import { Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { AllowKeys } from '../auth/auth.decorators';
import { CACHE_ENTITIES, CacheBus, type CacheEntity } from '../common/cache/cache-bus';
import { ApiErrors } from '../common/openapi';

export class InvalidateCacheQuery {
  /** products, coupons, api_keys or circuits */
  @IsIn(CACHE_ENTITIES)
  entity: CacheEntity;
}

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/cache')
export class AdminCacheController {
  constructor(private readonly bus: CacheBus) {}

  /** Drops the cache of an entity on every running instance (within a second). */
  @Post('invalidate')
  @HttpCode(200)
  @ApiErrors(400, 401, 403)
  async invalidate(@Query() query: InvalidateCacheQuery) {
    await this.bus.publish(query.entity);
    return { invalidated: query.entity };
  }
}
