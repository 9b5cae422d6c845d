import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { Idempotency, Idempotent, type IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { ListQueryDto, toPageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import { UnmatchedChargeDto } from './dto/checkout.dto';
import { ListTransactionsDto } from './dto/list-transactions.dto';
import { ChargesService } from './charges/charges.service';
import { PaymentsService } from './payments.service';
import { ProviderRefunds } from './refunds/provider-refunds';

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin')
export class AdminPaymentsController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly charges: ChargesService,
    private readonly providerRefunds: ProviderRefunds,
    private readonly db: DatabaseService,
  ) {}

  /** Every payment, with the filters of GET /transactions; a report, on the report pool. */
  @Get('transactions')
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  list(@Caller() caller: AuthContext, @Query() query: ListTransactionsDto) {
    const { kind, status, provider, customerEmail, from, to } = query;
    return this.payments.listTransactions(
      caller.merchantId,
      { kind, status, provider, customerEmail, from, to },
      toPageRequest(query),
      this.db.reports,
    );
  }

  @Get('failed-payments')
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  failed(@Caller() caller: AuthContext, @Query() query: ListQueryDto) {
    return this.payments.list(caller.merchantId, { status: 'failed' }, toPageRequest(query), this.db.reports);
  }

  /**
   * Gives back a charge the payment does not account for (booked to suspense: a late or second charge):
   * refunded at its provider, and released from suspense as the provider shows it refunded.
   */
  @Post('transactions/:id/refund-unmatched-charge')
  @HttpCode(200)
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 403, 404, 409, 422, 503)
  refundUnmatchedCharge(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: UnmatchedChargeDto) {
    return this.providerRefunds.refundUnmatchedCharge(caller, id, body);
  }

  /** Charges a payment that failed for want of an available provider again, as a new payment (retryOf). */
  @Post('retry-payment/:id')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 402, 403, 404, 409, 422, 503)
  retry(@Caller() caller: AuthContext, @Param('id') id: string, @Idempotency() idem: IdempotencyContext) {
    return this.charges.retry(caller, id, idem);
  }
}
