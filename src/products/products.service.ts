import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../config/env';
import { CacheBus } from '../common/cache/cache-bus';
import { TtlCache } from '../common/cache/ttl-cache';
import { NotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import { newId } from '../common/ids';
import { Page, PageRequest, paginate } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { CreateProductDto, UpdateProductDto } from './dto/product.dto';
import { ProductListFilter, ProductsRepository } from './products.repository';
import { Product, ProductFields } from './products.types';

const PUBLIC: ProductListFilter = { onlyActive: true, includeArchived: false };

/** One product's entry in the cache, shared by the catalog and cart pricing. */
const productKey = (merchantId: string, id: string) => `one:${merchantId}:${id}`;

@Injectable()
export class ProductsService {
  // Public reads are cached (CACHE_TTL_SECONDS); every admin write drops the cache on every instance.
  private readonly cache: TtlCache<unknown>;

  constructor(
    private readonly products: ProductsRepository,
    private readonly db: DatabaseService,
    private readonly bus: CacheBus,
    config: ConfigService<Env, true>,
  ) {
    this.cache = new TtlCache(config.get('CACHE_TTL_SECONDS', { infer: true }) * 1000);
    bus.subscribe('products', () => this.cache.clear());
  }

  listPublic(merchantId: string, page: PageRequest): Promise<Page<Product>> {
    const key = `list:${merchantId}:${page.limit}:${page.offset}:${page.startingAfter ?? ''}`;
    return this.cache.getOrLoad(key, async () => {
      return paginate(
        page,
        () => this.products.list(merchantId, PUBLIC, page),
        () => this.products.count(merchantId, PUBLIC),
      );
    }) as Promise<Page<Product>>;
  }

  /** An active product, as the public catalog shows it. */
  async getPublic(merchantId: string, id: string): Promise<Product> {
    const product = await this.cached(merchantId, id);
    if (!product || !product.active || product.archivedAt) throw new NotFoundError('product', id);
    return product;
  }

  /**
   * The products of a cart (those that exist, in any state), for pricing: from the same cache as the
   * public catalog, so that a payment costs no catalog query. Every admin write drops the cache on every
   * instance (LISTEN/NOTIFY) and CACHE_TTL_SECONDS bounds it otherwise, so a price change is charged as
   * soon as it is shown.
   */
  async findMany(merchantId: string, ids: string[]): Promise<Product[]> {
    // The products the cache misses are read in one statement.
    const found = (await this.cache.getOrLoadMany(
      ids,
      (id) => productKey(merchantId, id),
      async (missing) => {
        const read = new Map((await this.products.findManyByIds(merchantId, missing)).map((p) => [p.id, p]));
        return missing.map((id) => read.get(id) ?? null);
      },
    )) as Array<Product | null>;
    return found.filter((p): p is Product => p !== null);
  }

  /**
   * The products as stored now, uncached, optionally inside the caller's transaction (a coupon being
   * created checks its products exist in the transaction that stores it).
   */
  findManyFresh(merchantId: string, ids: string[], executor?: Executor): Promise<Product[]> {
    return this.products.findManyByIds(merchantId, ids, executor);
  }

  private cached(merchantId: string, id: string): Promise<Product | null> {
    return this.cache.getOrLoad(productKey(merchantId, id), () => this.products.findById(merchantId, id)) as Promise<Product | null>;
  }

  /** Admin listing: a report query, on the report pool. */
  async listAll(merchantId: string, includeArchived: boolean, page: PageRequest): Promise<Page<Product>> {
    const filter = { onlyActive: false, includeArchived };
    return paginate(
      page,
      () => this.products.list(merchantId, filter, page, this.db.reports),
      () => this.products.count(merchantId, filter, this.db.reports),
    );
  }

  async getById(merchantId: string, id: string): Promise<Product> {
    const product = await this.products.findById(merchantId, id);
    if (!product) throw new NotFoundError('product', id);
    return product;
  }

  async create(merchantId: string, dto: CreateProductDto): Promise<Product> {
    const fields = checkFields({
      name: dto.name,
      description: dto.description ?? null,
      prices: dto.prices.map((p) => ({ currency: p.currency, amount: p.amount, stripePriceId: p.stripePriceId ?? null })),
      billingType: dto.billingType ?? 'ONE_TIME',
      interval: dto.interval ?? null,
      type: dto.type ?? 'STANDARD',
      active: dto.active ?? true,
      stripeProductId: dto.stripeProductId ?? null,
      segpayPackageId: dto.segpayPackageId ?? null,
      segpayPricePointId: dto.segpayPricePointId ?? null,
      allowConversion: dto.allowConversion ?? false,
      metadata: dto.metadata ?? {},
    });
    const id = newId('prod');
    return this.db.transaction(async (tx) => {
      await this.products.insert(merchantId, id, fields, tx);
      await this.bus.publish('products', tx);
      return (await this.products.findById(merchantId, id, tx)) as Product;
    });
  }

  async update(merchantId: string, id: string, dto: UpdateProductDto): Promise<Product> {
    return this.db.transaction(async (tx) => {
      const current = await this.products.findByIdForUpdate(merchantId, id, tx);
      if (!current || current.archivedAt) throw new NotFoundError('product', id);
      const fields = checkFields({
        name: dto.name ?? current.name,
        description: dto.description !== undefined ? dto.description : current.description,
        prices:
          dto.prices?.map((p) => ({ currency: p.currency, amount: p.amount, stripePriceId: p.stripePriceId ?? null })) ?? current.prices,
        billingType: dto.billingType ?? current.billingType,
        interval: dto.interval !== undefined ? dto.interval : dto.billingType === 'ONE_TIME' ? null : current.interval,
        type: dto.type ?? current.type,
        active: dto.active ?? current.active,
        stripeProductId: dto.stripeProductId ?? current.stripeProductId,
        segpayPackageId: dto.segpayPackageId ?? current.segpayPackageId,
        segpayPricePointId: dto.segpayPricePointId ?? current.segpayPricePointId,
        allowConversion: dto.allowConversion ?? current.allowConversion,
        metadata: dto.metadata ?? current.metadata,
      });
      await this.products.update(merchantId, id, fields, tx);
      await this.bus.publish('products', tx);
      return (await this.products.findById(merchantId, id, tx)) as Product;
    });
  }

  /** Deletion archives: payments keep pointing at the product. */
  async archive(merchantId: string, id: string): Promise<Product> {
    return this.db.transaction(async (tx) => {
      if (!(await this.products.archive(merchantId, id, tx))) throw new NotFoundError('product', id);
      await this.bus.publish('products', tx);
      return (await this.products.findById(merchantId, id, tx)) as Product;
    });
  }
}

/** Rules that span fields, which the DTO cannot express. */
function checkFields(fields: ProductFields): ProductFields {
  const seen = new Set<string>();
  fields.prices.forEach((price, i) => {
    if (seen.has(price.currency))
      throw new ValidationFailedError(`prices[${i}].currency repeats ${price.currency}`, `prices[${i}].currency`);
    seen.add(price.currency);
  });
  if (fields.billingType === 'SUBSCRIPTION' && !fields.interval) {
    throw new ValidationFailedError('interval is required for SUBSCRIPTION products', 'interval');
  }
  if (fields.billingType === 'ONE_TIME' && fields.interval) {
    throw new ValidationFailedError('interval is only allowed for SUBSCRIPTION products', 'interval');
  }
  if (fields.type === 'GIFT_CARD' && fields.billingType !== 'ONE_TIME') {
    throw new ValidationFailedError('GIFT_CARD products are ONE_TIME', 'billingType');
  }
  return fields;
}
