import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';
import type { ProviderId, ProviderSettlement } from '../providers/payment-provider';

/** A payment the settlement job asks its provider about. */
export interface SettlementDue {
  merchantId: string;
  id: string;
  provider: ProviderId;
  providerRef: string;
  currency: string;
}

/**
 * A payment's settlement columns (fee, availability, when to ask the provider next). The payment's
 * status and ledger are PaymentOutcomes' and PaymentsRepository's; this only keeps what the provider
 * reports of the money it took.
 */
@Injectable()
export class SettlementsRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Claims up to `limit` payments whose settlement is due at `now` (any instance, never the same row
   * twice at once: SKIP LOCKED), pushing their next check `retrySeconds` on, a lease: a payment whose
   * provider does not answer this time is asked again then.
   */
  async claimDue(now: Date, limit: number, retrySeconds: number): Promise<SettlementDue[]> {
    const { rows } = await this.db.query<SettlementDue>(
      `UPDATE payments p SET settlement_check_at = $1::timestamptz + make_interval(secs => $3)
         FROM (SELECT merchant_id, id FROM payments
                WHERE settlement_check_at <= $1
                ORDER BY settlement_check_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED) due
        WHERE p.merchant_id = due.merchant_id AND p.id = due.id
        RETURNING p.merchant_id AS "merchantId", p.id, p.provider, p.provider_ref AS "providerRef", p.currency`,
      [now, limit, retrySeconds],
    );
    return rows;
  }

  /** Nothing to learn of this payment's settlement (its provider does not report one): the job leaves it. */
  async stopChecking(merchantId: string, id: string): Promise<void> {
    await this.db.query(`UPDATE payments SET settlement_check_at = NULL WHERE merchant_id = $1 AND id = $2`, [merchantId, id]);
  }

  /**
   * Records what the provider reports, unless the payment's settlement is already available: the fee
   * learned first stays (it is the one booked). A pending settlement is checked again when it should be
   * available (not before `notBefore`); an available one never again. Answers the fee recorded, or null
   * when nothing changed.
   */
  async record(
    merchantId: string,
    id: string,
    settlement: ProviderSettlement,
    notBefore: Date,
    tx: Executor,
  ): Promise<{ fee: number } | null> {
    const { rows } = await tx.query<{ fee: number }>(
      `UPDATE payments
          SET settlement_status = $3, settlement_fee = coalesce(settlement_fee, $4), settlement_available_on = $5::timestamptz,
              settlement_check_at = CASE WHEN $3 = 'pending' THEN greatest($5::timestamptz, $6::timestamptz) END
        WHERE merchant_id = $1 AND id = $2 AND settlement_status IS DISTINCT FROM 'available'
        RETURNING settlement_fee AS fee`,
      [merchantId, id, settlement.status, settlement.fee, settlement.availableOn, notBefore],
    );
    return rows[0] ? { fee: Number(rows[0].fee) } : null;
  }
}
