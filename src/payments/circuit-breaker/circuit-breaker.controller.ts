import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { AllowKeys, Caller } from '../../auth/auth.decorators';
import { type AuthContext, isPlatformAdmin } from '../../auth/auth.types';
import { DomainError } from '../../common/errors/domain-errors';
import { ApiErrors } from '../../common/openapi';
import { PROVIDER_IDS } from '../providers/payment-provider';
import { ProviderRegistry } from '../providers/provider-registry';
import { CircuitBreakerService } from './circuit-breaker.service';

export class ResetCircuitQuery {
  /** One provider; all when absent. */
  @IsOptional()
  @IsIn(PROVIDER_IDS)
  provider?: string;
}

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/circuit-breaker')
export class CircuitBreakerController {
  constructor(
    private readonly breaker: CircuitBreakerService,
    private readonly registry: ProviderRegistry,
  ) {}

  /** State per configured provider, as every instance sees it. */
  @Get()
  @ApiErrors(401, 403)
  async get() {
    return { data: await this.breaker.states(this.registry.ids()) };
  }

  /** Closes a provider's circuit (or every circuit) on all instances: platform admins only. */
  @Post('reset')
  @HttpCode(200)
  @ApiErrors(400, 401, 403)
  async reset(@Caller() caller: AuthContext, @Query() query: ResetCircuitQuery) {
    // The breaker protects every merchant: closing it is the platform's decision, not one merchant's.
    if (!isPlatformAdmin(caller)) {
      throw new DomainError('forbidden', 'platform_admin_required', 'Only a platform admin key may reset the circuit breaker.');
    }
    await this.breaker.reset(query.provider ?? null);
    return { data: await this.breaker.states(this.registry.ids()) };
  }
}
