import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { AllowKeys } from '../../auth/auth.decorators';
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

  /** Closes a provider's circuit (or every circuit) on all instances. */
  @Post('reset')
  @HttpCode(200)
  @ApiErrors(400, 401, 403)
  async reset(@Query() query: ResetCircuitQuery) {
    await this.breaker.reset(query.provider ?? null);
    return { data: await this.breaker.states(this.registry.ids()) };
  }
}
