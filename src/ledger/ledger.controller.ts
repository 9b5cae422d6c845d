import { Controller, Get, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NonCritical } from '../common/load-shedding.guard';
import { IsCurrencyCode } from '../common/money';
import { ApiErrors } from '../common/openapi';
import { LedgerService } from './ledger.service';

export class LedgerBalanceQuery {
  @IsCurrencyCode()
  currency: string;
}

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/ledger')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  /** Per-account debits and credits in one currency, and whether the books balance. */
  @Get('balance')
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  balance(@Caller() caller: AuthContext, @Query() query: LedgerBalanceQuery) {
    return this.ledger.balance(caller.merchantId, query.currency);
  }
}
