import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';

export interface VelocityCounts {
  ip: number;
  card: number;
  email: number;
}

/** The payments a velocity rule counts: succeeded ones and those still in flight. */
const COUNTED = ['processing', 'requires_action', 'succeeded', 'partially_refunded', 'refunded'];

@Injectable()
export class FraudRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Purchases in the last hour from this IP, with this card and by this email: succeeded ones and those
   * still in flight (so that parallel attempts count too). One statement; each count walks its own index
   * (payments_velocity_ip_idx, payments_velocity_card_idx, customers' email then payments_customer_recent_idx)
   * and stops at its limit, so the cost does not grow with the merchant's volume.
   */
  async countRecent(
    merchantId: string,
    subject: { ip: string | null; fingerprint: string | null; email: string },
    limits: VelocityCounts,
  ): Promise<VelocityCounts> {
    const { rows } = await this.db.query<VelocityCounts>(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM payments
                                      WHERE merchant_id = $1 AND client_ip = $2
                                        AND created_at > now() - interval '1 hour' AND status = ANY($5::text[])
                                      LIMIT $6) AS s)::int AS ip,
              (SELECT count(*) FROM (SELECT 1 FROM payments
                                      WHERE merchant_id = $1 AND card_fingerprint = $3
                                        AND created_at > now() - interval '1 hour' AND status = ANY($5::text[])
                                      LIMIT $7) AS s)::int AS card,
              (SELECT count(*) FROM (SELECT 1 FROM customers c
                                       JOIN payments p ON p.merchant_id = c.merchant_id AND p.customer_id = c.id
                                      WHERE c.merchant_id = $1 AND c.email = lower($4)
                                        AND p.created_at > now() - interval '1 hour' AND p.status = ANY($5::text[])
                                      LIMIT $8) AS s)::int AS email`,
      [merchantId, subject.ip, subject.fingerprint, subject.email, COUNTED, limits.ip, limits.card, limits.email],
    );
    return rows[0];
  }
}
