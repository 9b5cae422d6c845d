import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { PaymentMethod } from './customers.types';

const COLUMNS = `id, customer_id AS "customerId", provider, provider_customer_ref AS "providerCustomerRef",
                 provider_method_ref AS "providerMethodRef", brand, last4, exp_month AS "expMonth", exp_year AS "expYear",
                 created_at AS "createdAt"`;

/** Saved payment methods and the provider customers they hang from. */
@Injectable()
export class PaymentMethodsRepository {
  constructor(private readonly db: DatabaseService) {}

  async providerCustomerRef(
    merchantId: string,
    customerId: string,
    provider: string,
    executor: Executor = this.db,
  ): Promise<string | null> {
    const { rows } = await executor.query<{ ref: string }>(
      `SELECT provider_customer_ref AS ref
         FROM provider_customers
        WHERE merchant_id = $1 AND customer_id = $2 AND provider = $3`,
      [merchantId, customerId, provider],
    );
    return rows[0]?.ref ?? null;
  }

  /**
   * Records a method the provider saved (and its provider customer, the first time). A method the
   * provider answered again for the same request (a retry) is the same row: its id is answered.
   */
  async insert(merchantId: string, pm: Omit<PaymentMethod, 'createdAt'>, executor: Executor = this.db): Promise<PaymentMethod> {
    const { rows } = await executor.query<PaymentMethod>(
      `WITH pc AS (
         INSERT INTO provider_customers (merchant_id, customer_id, provider, provider_customer_ref)
         VALUES ($1, $3, $4, $5)
         ON CONFLICT (merchant_id, customer_id, provider) DO NOTHING
       ), inserted AS (
         INSERT INTO payment_methods (merchant_id, id, customer_id, provider, provider_customer_ref, provider_method_ref, brand, last4, exp_month, exp_year)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (merchant_id, provider, provider_method_ref) DO NOTHING
         RETURNING ${COLUMNS}
       )
       SELECT * FROM inserted
        UNION ALL
       SELECT ${COLUMNS} FROM payment_methods WHERE merchant_id = $1 AND provider = $4 AND provider_method_ref = $6
        LIMIT 1`,
      [
        merchantId,
        pm.id,
        pm.customerId,
        pm.provider,
        pm.providerCustomerRef,
        pm.providerMethodRef,
        pm.brand,
        pm.last4,
        pm.expMonth,
        pm.expYear,
      ],
    );
    return rows[0];
  }

  /** A method not detached, of this merchant (and customer, when given). */
  async findActive(merchantId: string, id: string, customerId?: string, executor: Executor = this.db): Promise<PaymentMethod | null> {
    const { rows } = await executor.query<PaymentMethod>(
      `SELECT ${COLUMNS}
         FROM payment_methods
        WHERE merchant_id = $1 AND id = $2 AND detached_at IS NULL AND ($3::text IS NULL OR customer_id = $3)`,
      [merchantId, id, customerId ?? null],
    );
    return rows[0] ?? null;
  }

  /** A method of this merchant, detached or not (what an earlier charge was made with). */
  async findAny(merchantId: string, id: string, executor: Executor = this.db): Promise<PaymentMethod | null> {
    const { rows } = await executor.query<PaymentMethod>(`SELECT ${COLUMNS} FROM payment_methods WHERE merchant_id = $1 AND id = $2`, [
      merchantId,
      id,
    ]);
    return rows[0] ?? null;
  }

  async listForCustomer(merchantId: string, customerId: string, executor: Executor = this.db): Promise<PaymentMethod[]> {
    const { rows } = await executor.query<PaymentMethod>(
      `SELECT ${COLUMNS}
         FROM payment_methods
        WHERE merchant_id = $1 AND customer_id = $2 AND detached_at IS NULL
        ORDER BY created_at, id`,
      [merchantId, customerId],
    );
    return rows;
  }

  async markDetached(merchantId: string, id: string, executor: Executor = this.db): Promise<void> {
    await executor.query(`UPDATE payment_methods SET detached_at = now() WHERE merchant_id = $1 AND id = $2 AND detached_at IS NULL`, [
      merchantId,
      id,
    ]);
  }
}
