import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../../database/database.service';

export interface SimulatorCharge {
  id: string;
  merchantId: string;
  idempotencyKey: string;
  token: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'requires_action' | 'declined' | 'failed' | 'canceled';
  declineCode: string | null;
  amountRefunded: number;
  reference: string | null;
  sessionId: string | null;
}

export type SimulatorChargeListing = Pick<
  SimulatorCharge,
  'id' | 'merchantId' | 'amount' | 'amountRefunded' | 'currency' | 'status' | 'reference'
> & {
  createdAt: Date;
};

export interface SimulatorSession {
  id: string;
  reference: string;
  merchantId: string;
  amount: number;
  currency: string;
  lines: Array<{ name: string; unitAmount: number; quantity: number }>;
  successUrl: string;
  cancelUrl: string;
  status: 'open' | 'complete' | 'canceled';
  /** Its page saves the card in the vault (for `customerRef`, or a new customer) when the customer pays. */
  saveMethod: boolean;
  customerRef: string | null;
}

const chargeColumns = (
  amountRefunded: string,
) => `id, merchant_id AS "merchantId", idempotency_key AS "idempotencyKey", token, amount, currency,
                status, decline_code AS "declineCode", ${amountRefunded} AS "amountRefunded", reference, session_id AS "sessionId"`;
const CHARGE = chargeColumns('amount_refunded');
/** A simulator refund not (yet) refunded: failed, or still waiting to settle. */
const UNSETTLED = `(failed OR coalesce(settles_at > now(), false))`;
const SESSION = `id, reference, merchant_id AS "merchantId", amount, currency, lines, success_url AS "successUrl",
                 cancel_url AS "cancelUrl", status, save_method AS "saveMethod", customer_ref AS "customerRef"`;

/**
 * The simulator's own books, as an outside processor keeps them. Every write is its own commit
 * (autocommit statements): they survive whatever happens to Paybridge's transactions.
 */
@Injectable()
export class SimulatorRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Records a charge once per idempotency key; a repeated key returns the first charge. Its commit does
   * not wait for the disk (DatabaseService.commitWithoutFlush): Paybridge's transaction of the outcome,
   * which commits before the client hears of the charge, makes it durable.
   */
  async recordCharge(charge: Omit<SimulatorCharge, 'amountRefunded'>): Promise<SimulatorCharge> {
    const { rows } = await this.db.commitWithoutFlush<SimulatorCharge>(
      `WITH inserted AS (
         INSERT INTO simulator_charges (id, idempotency_key, token, amount, currency, status, decline_code, reference, session_id, merchant_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING ${CHARGE}
       )
       SELECT * FROM inserted
        UNION ALL
       SELECT ${CHARGE} FROM simulator_charges WHERE idempotency_key = $2
        LIMIT 1`,
      [
        charge.id,
        charge.idempotencyKey,
        charge.token,
        charge.amount,
        charge.currency,
        charge.status,
        charge.declineCode,
        charge.reference,
        charge.sessionId,
        charge.merchantId,
      ],
    );
    return rows[0];
  }

  /**
   * A charge as the simulator reports it: refunds that have not settled yet, or failed, are not refunded
   * (a failed refund stays counted in amount_refunded, which only grows).
   */
  async findCharge(lookup: { id?: string | null; idempotencyKey?: string }): Promise<SimulatorCharge | null> {
    const { rows } = await this.db.query<SimulatorCharge>(
      `SELECT ${chargeColumns('amount_refunded - unsettled.amount_unsettled')}
         FROM simulator_charges c,
              LATERAL (SELECT coalesce(sum(r.amount), 0)::bigint AS amount_unsettled FROM simulator_refunds r
                        WHERE r.charge_id = c.id AND ${UNSETTLED}) AS unsettled
        WHERE c.id = $1 OR c.idempotency_key = $2
        LIMIT 1`,
      [lookup.id ?? null, lookup.idempotencyKey ?? null],
    );
    return rows[0] ?? null;
  }

  /** The token a charge was made with (its test outcome), or null for an unknown charge. */
  async findChargeToken(id: string): Promise<string | null> {
    const { rows } = await this.db.query<{ token: string }>(`SELECT token FROM simulator_charges WHERE id = $1`, [id]);
    return rows[0]?.token ?? null;
  }

  async completeAuthentication(id: string): Promise<SimulatorCharge | null> {
    const { rows } = await this.db.query<SimulatorCharge>(
      `UPDATE simulator_charges SET status = 'succeeded' WHERE id = $1 AND status = 'requires_action' RETURNING ${CHARGE}`,
      [id],
    );
    return rows[0] ?? null;
  }

  async failAuthentication(id: string): Promise<SimulatorCharge | null> {
    const { rows } = await this.db.query<SimulatorCharge>(
      `UPDATE simulator_charges SET status = 'declined', decline_code = 'authentication_failed'
        WHERE id = $1 AND status = 'requires_action' RETURNING ${CHARGE}`,
      [id],
    );
    return rows[0] ?? null;
  }

  async refundStatus(id: string): Promise<'succeeded' | 'pending' | 'failed' | null> {
    const { rows } = await this.db.query<{ status: 'succeeded' | 'pending' | 'failed' }>(
      `SELECT CASE WHEN failed THEN 'failed' WHEN settles_at > now() THEN 'pending' ELSE 'succeeded' END AS status
         FROM simulator_refunds WHERE id = $1`,
      [id],
    );
    return rows[0]?.status ?? null;
  }

  /** The merchant gave up waiting for the customer: an authentication completed later charges nothing. */
  async cancelAuthentication(id: string): Promise<void> {
    await this.db.query(`UPDATE simulator_charges SET status = 'canceled' WHERE id = $1 AND status = 'requires_action'`, [id]);
  }

  /**
   * Refunds once per key, never more than was charged; `settleAfterSeconds` (null: settled at once) makes
   * it a pending refund until then. Null when the charge cannot take it.
   */
  async recordRefund(refund: {
    id: string;
    idempotencyKey: string;
    chargeId: string;
    amount: number;
    settleAfterSeconds: number | null;
  }): Promise<{ id: string; pending: boolean } | null> {
    const { rows } = await this.db.query<{ id: string; pending: boolean }>(
      `WITH existing AS (
         SELECT id, ${UNSETTLED} AS pending FROM simulator_refunds WHERE idempotency_key = $2
       ), charged AS (
         UPDATE simulator_charges SET amount_refunded = amount_refunded + $4
          WHERE id = $3 AND status = 'succeeded' AND amount_refunded + $4 <= amount AND NOT EXISTS (SELECT 1 FROM existing)
         RETURNING id
       ), inserted AS (
         INSERT INTO simulator_refunds (id, idempotency_key, charge_id, amount, settles_at)
         SELECT $1, $2, $3, $4, now() + make_interval(secs => $5) FROM charged
         RETURNING id, ${UNSETTLED} AS pending
       )
       SELECT id, pending FROM existing UNION ALL SELECT id, pending FROM inserted`,
      [refund.id, refund.idempotencyKey, refund.chargeId, refund.amount, refund.settleAfterSeconds],
    );
    return rows[0] ?? null;
  }

  /**
   * One page of a merchant's charges created in [from, to), ordered by (created_at, id), after the
   * given keyset position: what reconciliation lists, in bounded pages whatever the window's size.
   */
  async listCharges(
    window: { merchantId: string; from: Date; to: Date },
    after: { createdAt: Date; id: string } | null,
    limit: number,
  ): Promise<Array<SimulatorChargeListing>> {
    const { rows } = await this.db.query<SimulatorChargeListing>(
      `SELECT c.id, c.merchant_id AS "merchantId", c.amount, c.amount_refunded - unsettled.amount_unsettled AS "amountRefunded",
              c.currency, c.status, c.reference, c.created_at AS "createdAt"
         FROM simulator_charges c,
              LATERAL (SELECT coalesce(sum(r.amount), 0)::bigint AS amount_unsettled FROM simulator_refunds r
                        WHERE r.charge_id = c.id AND ${UNSETTLED}) AS unsettled
        WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at < $3
          AND ($4::timestamptz IS NULL OR (c.created_at, c.id) > ($4, $5))
        ORDER BY c.created_at, c.id
        LIMIT $6`,
      [window.merchantId, window.from, window.to, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    return rows;
  }

  async recordSession(session: SimulatorSession & { idempotencyKey: string }): Promise<SimulatorSession> {
    const { rows } = await this.db.query<SimulatorSession>(
      `WITH inserted AS (
         INSERT INTO simulator_sessions (id, idempotency_key, reference, merchant_id, amount, currency, lines, success_url, cancel_url, status,
                                         save_method, customer_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING ${SESSION}
       )
       SELECT * FROM inserted
        UNION ALL
       SELECT ${SESSION} FROM simulator_sessions WHERE idempotency_key = $2
        LIMIT 1`,
      [
        session.id,
        session.idempotencyKey,
        session.reference,
        session.merchantId,
        session.amount,
        session.currency,
        JSON.stringify(session.lines),
        session.successUrl,
        session.cancelUrl,
        session.saveMethod,
        session.customerRef,
      ],
    );
    return rows[0];
  }

  async findSession(id: string): Promise<SimulatorSession | null> {
    const { rows } = await this.db.query<SimulatorSession>(`SELECT ${SESSION} FROM simulator_sessions WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async setSessionStatus(id: string, from: SimulatorSession['status'], to: SimulatorSession['status']): Promise<boolean> {
    const { rowCount } = await this.db.query(`UPDATE simulator_sessions SET status = $3 WHERE id = $1 AND status = $2`, [id, from, to]);
    return rowCount === 1;
  }
}
