import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../../database/database.service';

/** A refund key's claim on a Segpay sale (segpay_refund_claims): what stands in for SRS's missing idempotency key. */
export interface SegpayRefundClaim {
  refundKey: string;
  saleTranId: string;
  amount: number;
  currency: string;
  creditsBefore: string[];
  creditTranId: string | null;
  /** True for the attempt that created the claim (no earlier attempt of the key ever sent). */
  fresh: boolean;
  /** True when this attempt holds the sending lease: it may call SRS. */
  mayCredit: boolean;
}

const CLAIM = `refund_key AS "refundKey", sale_tran_id AS "saleTranId", amount::int AS amount, currency,
               credits_before AS "creditsBefore", credit_tran_id AS "creditTranId"`;

@Injectable()
export class SegpayRefundClaimsRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Claims the key (first attempt) or takes the sending lease of an earlier claim whose attempt ended
   * or timed out. `mayCredit` is false while another attempt is sending, or once a credit is recorded.
   */
  async claim(input: {
    refundKey: string;
    saleTranId: string;
    amount: number;
    currency: string;
    creditsBefore: string[];
    leaseMs: number;
  }): Promise<SegpayRefundClaim> {
    const { rows } = await this.db.query<Omit<SegpayRefundClaim, 'fresh' | 'mayCredit'> & { inserted: boolean; leased: boolean }>(
      `WITH inserted AS (
         INSERT INTO segpay_refund_claims (refund_key, sale_tran_id, amount, currency, credits_before, sending_until)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6 / 1000.0))
         ON CONFLICT (refund_key) DO NOTHING
         RETURNING ${CLAIM}, true AS inserted, true AS leased
       ), leased AS (
         UPDATE segpay_refund_claims SET sending_until = now() + make_interval(secs => $6 / 1000.0), updated_at = now()
          WHERE refund_key = $1 AND NOT EXISTS (SELECT 1 FROM inserted)
            AND credit_tran_id IS NULL AND (sending_until IS NULL OR sending_until < now())
         RETURNING ${CLAIM}, false AS inserted, true AS leased
       )
       SELECT * FROM inserted
       UNION ALL SELECT * FROM leased
       UNION ALL SELECT ${CLAIM}, false AS inserted, false AS leased FROM segpay_refund_claims
                  WHERE refund_key = $1 AND NOT EXISTS (SELECT 1 FROM inserted) AND NOT EXISTS (SELECT 1 FROM leased)`,
      [input.refundKey, input.saleTranId, input.amount, input.currency, input.creditsBefore, input.leaseMs],
    );
    // Empty only when another attempt inserted the claim while this statement ran (its snapshot did not
    // see that row): read it again.
    if (!rows[0]) return this.claim(input);
    const { inserted, leased, ...claim } = rows[0];
    return { ...claim, fresh: inserted, mayCredit: leased };
  }

  async find(refundKey: string): Promise<Pick<SegpayRefundClaim, 'refundKey' | 'creditTranId'> | null> {
    const { rows } = await this.db.query<Pick<SegpayRefundClaim, 'refundKey' | 'creditTranId'>>(
      `SELECT refund_key AS "refundKey", credit_tran_id AS "creditTranId" FROM segpay_refund_claims WHERE refund_key = $1`,
      [refundKey],
    );
    return rows[0] ?? null;
  }

  /** Credits of this sale that answered another of our refund keys. */
  async creditsOfOtherKeys(saleTranId: string, refundKey: string): Promise<Set<string>> {
    const { rows } = await this.db.query<{ creditTranId: string }>(
      `SELECT credit_tran_id AS "creditTranId" FROM segpay_refund_claims
        WHERE sale_tran_id = $1 AND refund_key <> $2 AND credit_tran_id IS NOT NULL`,
      [saleTranId, refundKey],
    );
    return new Set(rows.map((r) => r.creditTranId));
  }

  /** Records the credit SRS made for the key and ends its sending lease. */
  async recordCredit(refundKey: string, creditTranId: string): Promise<void> {
    await this.db.query(
      `UPDATE segpay_refund_claims SET credit_tran_id = $2, sending_until = NULL, updated_at = now()
        WHERE refund_key = $1 AND credit_tran_id IS NULL`,
      [refundKey, creditTranId],
    );
  }

  /** SRS refused the refund (nothing was credited): a later attempt of the key may send again at once. */
  async release(refundKey: string): Promise<void> {
    await this.db.query(
      `UPDATE segpay_refund_claims SET sending_until = NULL, updated_at = now() WHERE refund_key = $1 AND credit_tran_id IS NULL`,
      [refundKey],
    );
  }
}
