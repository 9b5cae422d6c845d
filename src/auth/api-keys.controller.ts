import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Idempotent } from '../common/idempotency/idempotency.decorator';
import { ApiErrors } from '../common/openapi';
import { AllowKeys, Caller } from './auth.decorators';
import type { AuthContext } from './auth.types';
import { ApiKeysService, CreatedApiKey } from './api-keys.service';
import { CreateApiKeyDto } from './dto/create-api-key.dto';

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  /** Creates a key; its secret is in this response only (never stored, so no Idempotency-Key replay). */
  @Post()
  @Idempotent({ required: false, mode: 'unstored' })
  @ApiErrors(400, 401, 403)
  create(@Caller() caller: AuthContext, @Body() body: CreateApiKeyDto): Promise<CreatedApiKey> {
    return this.keys.create(caller.merchantId, body.kind, body.label ?? null);
  }

  /** Revokes a key: every instance refuses it within a second. */
  @Delete(':id')
  @HttpCode(200)
  @ApiErrors(401, 403, 404)
  revoke(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.keys.revoke(caller.merchantId, id);
  }
}
