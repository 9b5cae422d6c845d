import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { ApiErrors } from '../common/openapi';
import { ListQueryDto, toPageRequest } from '../common/pagination';
import { ProductsService } from './products.service';

@ApiTags('catalog')
@ApiSecurity('api-key')
@AllowKeys('publishable', 'secret')
@Controller('products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  /** Active products with their prices (cached). */
  @Get()
  @ApiErrors(400, 401, 403)
  list(@Caller() caller: AuthContext, @Query() query: ListQueryDto) {
    return this.products.listPublic(caller.merchantId, toPageRequest(query));
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.products.getPublic(caller.merchantId, id);
  }
}
