import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import type { Customer, CustomerInput } from './customers.types';

@Injectable()
export class CustomersRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * The customer with this email, created if new; name and country are filled in when given. One
   * statement in the common case (an existing customer with nothing new), without locking the row.
   */
  async upsertByEmail(merchantId: string, input: CustomerInput, executor: Executor = this.db): Promise<Customer> {
    const email = input.email.toLowerCase();
    for (let attempt = 0; attempt < 2; attempt++) {
      const { rows } = await executor.query<Customer>(
        `WITH inserted AS (
           INSERT INTO customers (merchant_id, id, email, name, country)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (merchant_id, email) DO NOTHING
           RETURNING id, email, name, country
         )
         SELECT id, email, name, country FROM inserted
          UNION ALL
         SELECT id, email, name, country
           FROM customers
          WHERE merchant_id = $1
            AND email = $3
          LIMIT 1`,
        [merchantId, newId('cus'), email, input.name ?? null, input.country ?? null],
      );
      const customer = rows[0];
      // A concurrent first insert of the same email is not visible to this statement's snapshot: retry.
      if (!customer) continue;
      const stale = (input.name && input.name !== customer.name) || (input.country && input.country !== customer.country);
      if (!stale) return customer;
      const updated = await executor.query<Customer>(
        `UPDATE customers
            SET name = coalesce($3, name),
                country = coalesce($4, country),
                updated_at = now()
          WHERE merchant_id = $1
            AND id = $2
         RETURNING id, email, name, country`,
        [merchantId, customer.id, input.name ?? null, input.country ?? null],
      );
      return updated.rows[0];
    }
    throw new Error(`customer could not be created or found (merchant ${merchantId})`); // no email: messages reach logs
  }
}
