import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../../database/database.service';

export interface SimulatorSavedMethod {
  id: string;
  customerRef: string;
  merchantId: string;
  token: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  detached: boolean;
}

const COLUMNS = `id, customer_ref AS "customerRef", merchant_id AS "merchantId", token, brand, last4, exp_month AS "expMonth",
                 exp_year AS "expYear", detached`;

/** The simulator's vault of saved cards, as an outside processor keeps it (autocommit statements). */
@Injectable()
export class SimulatorVaultRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Saves a card once per idempotency key; a repeated key answers the first one. */
  async save(method: Omit<SimulatorSavedMethod, 'detached'> & { idempotencyKey: string }): Promise<SimulatorSavedMethod> {
    const { rows } = await this.db.query<SimulatorSavedMethod>(
      `WITH inserted AS (
         INSERT INTO simulator_saved_methods (id, customer_ref, merchant_id, idempotency_key, token, brand, last4, exp_month, exp_year)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING ${COLUMNS}
       )
       SELECT * FROM inserted
        UNION ALL
       SELECT ${COLUMNS} FROM simulator_saved_methods WHERE idempotency_key = $4
        LIMIT 1`,
      [
        method.id,
        method.customerRef,
        method.merchantId,
        method.idempotencyKey,
        method.token,
        method.brand,
        method.last4,
        method.expMonth,
        method.expYear,
      ],
    );
    return rows[0];
  }

  /** The card saved under this idempotency key (a hosted page's: `hosted:<session>`). */
  async findByKey(idempotencyKey: string): Promise<SimulatorSavedMethod | null> {
    const { rows } = await this.db.query<SimulatorSavedMethod>(
      `SELECT ${COLUMNS} FROM simulator_saved_methods WHERE idempotency_key = $1`,
      [idempotencyKey],
    );
    return rows[0] ?? null;
  }

  async find(id: string, customerRef: string): Promise<SimulatorSavedMethod | null> {
    const { rows } = await this.db.query<SimulatorSavedMethod>(
      `SELECT ${COLUMNS} FROM simulator_saved_methods WHERE id = $1 AND customer_ref = $2`,
      [id, customerRef],
    );
    return rows[0] ?? null;
  }

  async detach(id: string, customerRef: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`UPDATE simulator_saved_methods SET detached = true WHERE id = $1 AND customer_ref = $2`, [
      id,
      customerRef,
    ]);
    return (rowCount ?? 0) > 0;
  }
}
