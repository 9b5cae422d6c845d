import { Injectable } from '@nestjs/common';
import { newId } from '../common/ids';
import type { Executor, Transaction } from '../database/database.types';
import { Customer, CustomerInput, normalizeEmail } from './customers.types';

@Injectable()
export class CustomersRepository {
  /**
   * Makes sure the customer with this email exists, with name and country filled in when given: its
   * writes are handed over to the transaction, so that the statement that needs the customer (found by
   * email) leaves with them. Statements run in the order sent, each seeing what the ones before it
   * wrote, and an insert racing a concurrent first insert of the same email waits for it: the next
   * statement finds the customer either way. An existing customer with nothing new is not locked.
   */
  ensure(tx: Transaction, merchantId: string, input: CustomerInput): void {
    const email = normalizeEmail(input.email);
    tx.later(
      tx.query(
        `INSERT INTO customers (merchant_id, id, email, name, country)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (merchant_id, email) DO NOTHING`,
        [merchantId, newId('cus'), email, input.name ?? null, input.country ?? null],
      ),
    );
    if (!input.name && !input.country) return;
    tx.later(
      tx.query(
        `UPDATE customers
            SET name = coalesce($3, name),
                country = coalesce($4, country),
                updated_at = now()
          WHERE merchant_id = $1
            AND email = $2
            AND (name IS DISTINCT FROM coalesce($3, name) OR country IS DISTINCT FROM coalesce($4, country))`,
        [merchantId, email, input.name || null, input.country || null],
      ),
    );
  }

  /** The customer with this email, created if new (see ensure()): one round trip. */
  async upsertByEmail(tx: Transaction, merchantId: string, input: CustomerInput): Promise<Customer> {
    this.ensure(tx, merchantId, input);
    const { rows } = await tx.query<Customer>(
      `SELECT id, email, name, country
         FROM customers
        WHERE merchant_id = $1
          AND email = $2`,
      [merchantId, normalizeEmail(input.email)],
    );
    return rows[0];
  }

  async findById(executor: Executor, merchantId: string, id: string): Promise<Customer | null> {
    const { rows } = await executor.query<Customer>(
      `SELECT id, email, name, country
         FROM customers
        WHERE merchant_id = $1
          AND id = $2`,
      [merchantId, id],
    );
    return rows[0] ?? null;
  }
}
