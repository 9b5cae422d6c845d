import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { Idempotency, Idempotent, type IdempotencyContext } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { CustomersService } from './customers.service';
import { FindCustomersDto, SavePaymentMethodDto } from './dto/customers.dto';

@ApiTags('customers')
@ApiSecurity('api-key')
@AllowKeys('secret')
@Controller('customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  /** The customer with this email (customers are found by email: at most one). */
  @Get()
  @ApiErrors(400, 401, 403)
  find(@Caller() caller: AuthContext, @Query() query: FindCustomersDto) {
    return this.customers.findByEmail(caller.merchantId, query.email);
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.customers.get(caller.merchantId, id);
  }

  /** Saves `{provider, token}` at that provider for later charges: brand, last four digits, expiry. */
  @Post(':id/payment-methods')
  @Idempotent({ mode: 'phased' })
  @ApiErrors(400, 401, 402, 403, 404, 422, 503)
  saveMethod(
    @Caller() caller: AuthContext,
    @Param('id') id: string,
    @Body() body: SavePaymentMethodDto,
    @Idempotency() idem: IdempotencyContext,
  ) {
    return this.customers.saveMethod(caller.merchantId, id, body.provider, body.token, idem.key);
  }

  @Get(':id/payment-methods')
  @ApiErrors(401, 403, 404)
  listMethods(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.customers.listMethods(caller.merchantId, id);
  }

  @Delete(':id/payment-methods/:pmId')
  @ApiErrors(401, 403, 404, 422, 503)
  deleteMethod(@Caller() caller: AuthContext, @Param('id') id: string, @Param('pmId') pmId: string) {
    return this.customers.deleteMethod(caller.merchantId, id, pmId);
  }
}
