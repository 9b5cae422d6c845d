import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
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
  async check(@Res() res: FastifyReply): Promise<void> {
    try {
      await res.status(200).send(await this.health.check([() => this.database.check()]));
    } catch (err) {
      // Terminus reports a failed check as a 503 carrying the breakdown: send it as it is.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      await res.status(503).send(err.getResponse());
    }
  }
}
