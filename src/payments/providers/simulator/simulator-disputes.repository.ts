import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../../database/database.service';
import type { DisputeStatus } from '../payment-provider';

export interface SimulatorDispute {
  id: string;
  chargeId: string;
  merchantId: string;
  amount: number;
  currency: string;
  reason: string;
  status: DisputeStatus;
  fee: number;
  evidenceDueBy: Date;
}

const COLUMNS = `id, charge_id AS "chargeId", merchant_id AS "merchantId", amount, currency, reason, status, fee,
                 evidence_due_by AS "evidenceDueBy"`;

/** The simulator's own records of the disputes it opened, as an outside processor keeps them (autocommit). */
@Injectable()
export class SimulatorDisputesRepository {
  constructor(private readonly db: DatabaseService) {}

  async insert(dispute: SimulatorDispute): Promise<SimulatorDispute> {
    const { rows } = await this.db.query<SimulatorDispute>(
      `INSERT INTO simulator_disputes (id, charge_id, merchant_id, amount, currency, reason, status, fee, evidence_due_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       RETURNING ${COLUMNS}`,
      [
        dispute.id,
        dispute.chargeId,
        dispute.merchantId,
        dispute.amount,
        dispute.currency,
        dispute.reason,
        dispute.status,
        dispute.fee,
        dispute.evidenceDueBy,
      ],
    );
    return rows[0];
  }

  async find(id: string): Promise<SimulatorDispute | null> {
    const { rows } = await this.db.query<SimulatorDispute>(`SELECT ${COLUMNS} FROM simulator_disputes WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** One page of a merchant's disputes opened in [from, to), after the keyset position (reconciliation). */
  async list(
    window: { merchantId: string; from: Date; to: Date },
    after: { createdAt: Date; id: string } | null,
    limit: number,
  ): Promise<Array<SimulatorDispute & { createdAt: Date }>> {
    const { rows } = await this.db.query<SimulatorDispute & { createdAt: Date }>(
      `SELECT ${COLUMNS}, created_at AS "createdAt" FROM simulator_disputes
        WHERE merchant_id = $1 AND (created_at, id) > ($2::timestamptz, $3::text) AND created_at < $4
        ORDER BY created_at, id
        LIMIT $5`,
      // The first page starts before every row of the window (ids are never empty): the keyset position is
      // the only lower bound, never an OR nor a second bound, or a cached generic plan scans the window
      // from its start for every page (quadratic).
      [window.merchantId, after?.createdAt ?? window.from, after?.id ?? '', window.to, limit],
    );
    return rows;
  }

  /** Closes an open dispute; null when there is none open by that id. */
  async close(id: string, outcome: 'won' | 'lost'): Promise<SimulatorDispute | null> {
    const { rows } = await this.db.query<SimulatorDispute>(
      `UPDATE simulator_disputes SET status = $2, updated_at = now()
        WHERE id = $1 AND status IN ('needs_response', 'under_review')
        RETURNING ${COLUMNS}`,
      [id, outcome],
    );
    return rows[0] ?? null;
  }
}
