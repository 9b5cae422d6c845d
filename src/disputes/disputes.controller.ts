import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { ApiErrors } from '../common/openapi';
import { toPageRequest } from '../common/pagination';
import { DisputesService } from './disputes.service';
import { DisputeEvidenceDto, ListDisputesDto } from './dto/disputes.dto';

/**
 * A merchant's disputes (chargebacks). Read with a secret key; evidence is submitted by the merchant's
 * back end (secret key) or an admin key of the same merchant: either way only its own disputes.
 */
@ApiTags('disputes')
@ApiSecurity('api-key')
@AllowKeys('secret', 'admin')
@Controller('disputes')
export class DisputesController {
  constructor(private readonly disputes: DisputesService) {}

  /** The merchant's disputes, newest first (`status`, `paymentId` filter). */
  @Get()
  @ApiErrors(400, 401, 403)
  list(@Caller() caller: AuthContext, @Query() query: ListDisputesDto) {
    return this.disputes.list(caller.merchantId, { status: query.status, paymentId: query.paymentId }, toPageRequest(query));
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.disputes.get(caller.merchantId, id);
  }

  /** Evidence text: sent to Stripe (evidence.uncategorized_text), recorded for every provider. */
  @Post(':id/evidence')
  @HttpCode(200)
  @ApiErrors(400, 401, 403, 404, 422, 503)
  evidence(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: DisputeEvidenceDto) {
    return this.disputes.submitEvidence(caller.merchantId, id, body.text);
  }
}
