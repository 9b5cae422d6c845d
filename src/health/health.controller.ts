import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators';
import { AmqpSink } from '../events/amqp/amqp.sink';
import { DatabaseHealthIndicator } from './database.health';

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly broker: AmqpSink,
  ) {}

  /**
   * 200 when the database answers, 503 otherwise, with a per-dependency breakdown. A configured broker
   * that is down makes the answer `degraded`, still 200: payments go on, and events wait in the outbox.
   */
  @Get()
  @HealthCheck()
  async check(@Res() res: FastifyReply): Promise<void> {
    const broker = this.broker.health();
    let status = 200;
    let report: Record<string, unknown> & { status: string; details?: Record<string, unknown> };
    try {
      report = { ...(await this.health.check([() => this.database.check()])) };
    } catch (err) {
      // Terminus reports a failed check as a 503 carrying the breakdown: send it as it is.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      status = 503;
      report = err.getResponse() as typeof report;
    }
    const amqp = await broker;
    if (amqp) {
      report.details = { ...report.details, amqp };
      if (amqp.status === 'down' && report.status === 'ok') report.status = 'degraded';
    }
    await res.status(status).send(report);
  }
}
