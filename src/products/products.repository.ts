import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { PageRequest } from '../common/pagination';
import { Product, ProductFields, ProductRow, toProduct } from './products.types';

const SELECT_PRODUCT = `
  SELECT p.merchant_id, p.id, p.name, p.description, p.billing_type, p.billing_interval, p.type, p.active,
         p.archived_at, p.stripe_product_id, p.segpay_package_id, p.segpay_price_point_id, p.allow_conversion,
         p.metadata,
         p.created_at, p.updated_at,
         coalesce((SELECT json_agg(json_build_object('currency', pp.currency, 'amount', pp.amount,
                                                     'stripe_price_id', pp.stripe_price_id)
                                   ORDER BY pp.currency)
                     FROM product_prices pp
                    WHERE pp.merchant_id = p.merchant_id
                      AND pp.product_id = p.id), '[]'::json) AS prices
    FROM products p`;

export interface ProductListFilter {
  /** Public listing: active and not archived. Admin listing: everything not archived unless asked. */
  onlyActive: boolean;
  includeArchived: boolean;
}

@Injectable()
export class ProductsRepository {
  constructor(private readonly db: DatabaseService) {}

  async findById(merchantId: string, id: string, executor: Executor = this.db): Promise<Product | null> {
    const { rows } = await executor.query<ProductRow>(
      `${SELECT_PRODUCT}
        WHERE p.merchant_id = $1
          AND p.id = $2`,
      [merchantId, id],
    );
    return rows[0] ? toProduct(rows[0]) : null;
  }

  /** Locks the product row for the rest of the transaction (read-modify-write updates). */
  async findByIdForUpdate(merchantId: string, id: string, executor: Executor): Promise<Product | null> {
    const { rows } = await executor.query<ProductRow>(
      `${SELECT_PRODUCT}
        WHERE p.merchant_id = $1
          AND p.id = $2
          FOR UPDATE OF p`,
      [merchantId, id],
    );
    return rows[0] ? toProduct(rows[0]) : null;
  }

  async findManyByIds(merchantId: string, ids: string[], executor: Executor = this.db): Promise<Product[]> {
    const { rows } = await executor.query<ProductRow>(
      `${SELECT_PRODUCT}
        WHERE p.merchant_id = $1
          AND p.id = ANY($2::text[])`,
      [merchantId, ids],
    );
    return rows.map(toProduct);
  }

  /** Newest first; fetches limit + 1 rows so the caller can tell whether there is more. */
  async list(merchantId: string, filter: ProductListFilter, page: PageRequest, executor: Executor = this.db): Promise<Product[]> {
    const { rows } = await executor.query<ProductRow>(
      `${SELECT_PRODUCT}
        WHERE p.merchant_id = $1
          AND (NOT $2::boolean OR p.active)
          AND ($3::boolean OR p.archived_at IS NULL)
          AND ($4::text IS NULL
               OR (p.created_at, p.id) < (SELECT c.created_at, c.id
                                            FROM products c
                                           WHERE c.merchant_id = $1
                                             AND c.id = $4))
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT $5 OFFSET $6`,
      [merchantId, filter.onlyActive, filter.includeArchived, page.startingAfter ?? null, page.limit + 1, page.offset],
    );
    return rows.map(toProduct);
  }

  async count(merchantId: string, filter: ProductListFilter, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(
      `SELECT count(*)::int AS count
         FROM products p
        WHERE p.merchant_id = $1
          AND (NOT $2::boolean OR p.active)
          AND ($3::boolean OR p.archived_at IS NULL)`,
      [merchantId, filter.onlyActive, filter.includeArchived],
    );
    return rows[0].count;
  }

  async insert(merchantId: string, id: string, fields: ProductFields, executor: Executor): Promise<void> {
    await executor.query(
      `INSERT INTO products
              (merchant_id, id, name, description, billing_type, billing_interval, type, active,
               stripe_product_id, segpay_package_id, segpay_price_point_id, metadata, allow_conversion)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        merchantId,
        id,
        fields.name,
        fields.description,
        fields.billingType,
        fields.interval,
        fields.type,
        fields.active,
        fields.stripeProductId,
        fields.segpayPackageId,
        fields.segpayPricePointId,
        fields.metadata,
        fields.allowConversion,
      ],
    );
    await this.replacePrices(merchantId, id, fields.prices, executor);
  }

  async update(merchantId: string, id: string, fields: ProductFields, executor: Executor): Promise<void> {
    await executor.query(
      `UPDATE products
          SET name = $3,
              description = $4,
              billing_type = $5,
              billing_interval = $6,
              type = $7,
              active = $8,
              stripe_product_id = $9,
              segpay_package_id = $10,
              segpay_price_point_id = $11,
              metadata = $12,
              allow_conversion = $13,
              updated_at = now()
        WHERE merchant_id = $1
          AND id = $2`,
      [
        merchantId,
        id,
        fields.name,
        fields.description,
        fields.billingType,
        fields.interval,
        fields.type,
        fields.active,
        fields.stripeProductId,
        fields.segpayPackageId,
        fields.segpayPricePointId,
        fields.metadata,
        fields.allowConversion,
      ],
    );
    await this.replacePrices(merchantId, id, fields.prices, executor);
  }

  async archive(merchantId: string, id: string, executor: Executor = this.db): Promise<boolean> {
    const { rowCount } = await executor.query(
      `UPDATE products
          SET active = false,
              archived_at = coalesce(archived_at, now()),
              updated_at = now()
        WHERE merchant_id = $1
          AND id = $2`,
      [merchantId, id],
    );
    return rowCount === 1;
  }

  private async replacePrices(merchantId: string, productId: string, prices: ProductFields['prices'], executor: Executor): Promise<void> {
    await executor.query(
      `DELETE FROM product_prices
        WHERE merchant_id = $1
          AND product_id = $2`,
      [merchantId, productId],
    );
    await executor.query(
      `INSERT INTO product_prices (merchant_id, product_id, currency, amount, stripe_price_id)
       SELECT $1, $2, price.currency, price.amount, price.stripe_price_id
         FROM unnest($3::text[], $4::bigint[], $5::text[]) AS price (currency, amount, stripe_price_id)`,
      [merchantId, productId, prices.map((p) => p.currency), prices.map((p) => p.amount), prices.map((p) => p.stripePriceId ?? null)],
    );
  }
}
