import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AllowKeys, Caller } from '../auth/auth.decorators';
import type { AuthContext } from '../auth/auth.types';
import { NonCritical } from '../common/load-shedding.guard';
import { ApiErrors } from '../common/openapi';
import { toPageRequest } from '../common/pagination';
import { CreateProductDto, UpdateProductDto } from './dto/product.dto';
import { AdminListProductsDto } from './dto/list-products.dto';
import { ProductsService } from './products.service';

@ApiTags('admin')
@ApiSecurity('api-key')
@AllowKeys('admin')
@Controller('admin/products')
export class AdminProductsController {
  constructor(private readonly products: ProductsService) {}

  /** Every product, archived ones on request. Shed first when the pool is busy. */
  @Get()
  @NonCritical()
  @ApiErrors(400, 401, 403, 503)
  list(@Caller() caller: AuthContext, @Query() query: AdminListProductsDto) {
    return this.products.listAll(caller.merchantId, query.includeArchived ?? false, toPageRequest(query));
  }

  @Get(':id')
  @ApiErrors(401, 403, 404)
  get(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.products.getById(caller.merchantId, id);
  }

  /** Creates a product (idempotent with an Idempotency-Key). */
  @Post()
  @ApiErrors(400, 401, 403, 409, 422)
  create(@Caller() caller: AuthContext, @Body() body: CreateProductDto) {
    return this.products.create(caller.merchantId, body);
  }

  /** Changes any subset of fields; prices, when given, replace the old ones. */
  @Patch(':id')
  @ApiErrors(400, 401, 403, 404)
  update(@Caller() caller: AuthContext, @Param('id') id: string, @Body() body: UpdateProductDto) {
    return this.products.update(caller.merchantId, id, body);
  }

  /** Archives the product: it leaves the public catalog; payments keep referring to it. */
  @Delete(':id')
  @ApiErrors(401, 403, 404)
  archive(@Caller() caller: AuthContext, @Param('id') id: string) {
    return this.products.archive(caller.merchantId, id);
  }
}
