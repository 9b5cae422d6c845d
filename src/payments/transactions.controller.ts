import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { Idempotency, Idempotent, type IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { toPageRequest } from '../common/pagination';
import { RefundDto } from './dto/checkout.dto';
import { ListTransactionsDto } from './dto/list-transactions.dto';
import { PaymentsService } from './payments.service';
import { RefundsService } from './refunds/refunds.service';

@ApiTags('transactions')
@ApiSecurity('api-key')
@Controller('transactions')
export class TransactionsController {
  constructor(
    private readonly payments: PaymentsService,
    private readonly refunds: RefundsService,
  ) {}

  /** Payments (`kind: "payment"`) and disputes (`kind: "dispute"`), newest first, filtered by kind, status, provider, customer email and creation time. */
  @Get()
  @AllowKeys('secret')
  @ApiErrors(400, 401, 403)
  list(@Caller() caller: AuthContext, @Query() query: ListTransactionsDto) {
    const { kind, status, provider, customerEmail, from, to } = query;
    return this.payments.listTransactions(caller.merchantId, { kind, status, provider, customerEmail, from, to }, toPageRequest(query));
  }

  @Get(':id')
  @AllowKeys('secret', 'publishable', 'admin')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.payments.getById(caller.merchantId, id);
  }

  /** Status changes, provider attempts, webhook receipts and refunds, in order. */
  @Get(':id/timeline')
  @AllowKeys('secret', 'admin')
  @ApiErrors(401, 403, 404)
  async timeline(@Caller() caller: AuthContext, @Param('id') id: string) {
    return { data: await this.payments.timeline(caller.merchantId, id) };
  }

  /** Refunds all or part of what remains; never more than was captured, even when refunds race. */
  @Post(':id/refund')
  @AllowKeys('admin')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 403, 404, 409, 422, 503)
  refund(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: RefundDto, @Idempotency() idem: IdempotencyContext) {
    return this.refunds.refund(caller, id, body, idem);
  }
}
