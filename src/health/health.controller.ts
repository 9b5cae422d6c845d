import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { DatabaseHealthIndicator } from './database.health';

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
  ) {}

  /** 200 when every dependency answers, 503 otherwise, with a per-dependency breakdown. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.database.check()]);
  }
}
