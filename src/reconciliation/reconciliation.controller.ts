import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { ListQueryDto, toPageRequest } from '../common/pagination';
import { ListDiscrepanciesDto, ResolveDiscrepancyDto, RunReconciliationDto } from './dto/reconciliation.dto';
import { ReconciliationService } from './reconciliation.service';

/** Reconciliation runs and their discrepancies, for the caller's merchant only (admin key). */
@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/reconciliation')
export class ReconciliationController {
  constructor(private readonly reconciliation: ReconciliationService) {}

  /** Starts a run (it goes on in the background: poll GET runs/:id). */
  @Post('run')
  @HttpCode(202)
  @ApiErrors(400, 401, 403, 409)
  run(@Caller() caller: AuthContext, @Body() body: RunReconciliationDto) {
    return this.reconciliation.start(caller.merchantId, body);
  }

  @Get('runs')
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  runs(@Caller() caller: AuthContext, @Query() query: ListQueryDto) {
    return this.reconciliation.listRuns(caller.merchantId, toPageRequest(query));
  }

  @Get('runs/:id')
  @ApiErrors(401, 403, 404)
  getRun(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.reconciliation.getRun(caller.merchantId, id);
  }

  /** Oldest first (`runId`, `kind`, `status` filter). */
  @Get('discrepancies')
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  discrepancies(@Caller() caller: AuthContext, @Query() query: ListDiscrepanciesDto) {
    return this.reconciliation.listDiscrepancies(
      caller.merchantId,
      { runId: query.runId, kind: query.kind, status: query.status },
      toPageRequest(query),
    );
  }

  @Post('discrepancies/:id/resolve')
  @HttpCode(200)
  @ApiErrors(400, 401, 403, 404, 409)
  resolve(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: ResolveDiscrepancyDto) {
    return this.reconciliation.resolve(caller.merchantId, id, body.note);
  }
}
