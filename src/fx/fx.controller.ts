import { Body, Controller, Get, Param, Put, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { ApiErrors } from '../common/openapi';
import { ListQueryDto, toPageRequest } from '../common/pagination';
import { PutFxRateDto } from './dto/fx-rate.dto';
import { FxService } from './fx.service';

/** The caller's merchant's conversion rates, one per pair (admin key). */
@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/fx-rates')
export class FxController {
  constructor(private readonly fx: FxService) {}

  /** By pair. */
  @Get()
  @ApiErrors(400, 401, 403)
  list(@Caller() caller: AuthContext, @Query() query: ListQueryDto) {
    return this.fx.list(caller.merchantId, toPageRequest(query));
  }

  @Get(':pair')
  @ApiErrors(400, 401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('pair') pair: string) {
    return this.fx.get(caller.merchantId, pair);
  }

  /** Sets the pair's rate (`USD-BRL`: BRL per one USD), replacing the one before; payments keep the rate they used. */
  @Put(':pair')
  @ApiErrors(400, 401, 403)
  put(@Caller() caller: AuthContext, @Param('pair') pair: string, @Body() body: PutFxRateDto) {
    return this.fx.put(caller.merchantId, pair, body);
  }
}
