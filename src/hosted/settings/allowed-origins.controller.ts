import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../../auth/auth.decorators';
import type { AuthContext } from '../../auth/auth.types';
import { ApiErrors } from '../../common/openapi';
import { AllowedOriginsDto } from './allowed-origins.dto';
import { MerchantSettingsRepository } from './merchant-settings.repository';

/** Where the merchant's embedded checkout may appear (the hosted page's frame-ancestors). */
@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/settings/allowed-origins')
export class AllowedOriginsController {
  constructor(private readonly settings: MerchantSettingsRepository) {}

  @Get()
  @ApiErrors(401, 403)
  async get(@Caller() caller: AuthContext) {
    return { origins: await this.settings.findFrameOrigins(caller.merchantId) };
  }

  @Put()
  @ApiErrors(400, 401, 403)
  async put(@Caller() caller: AuthContext, @Body() body: AllowedOriginsDto) {
    const origins = [...new Set(body.origins.map((o) => new URL(o).origin))];
    return { origins: await this.settings.saveFrameOrigins(caller.merchantId, origins) };
  }
}
