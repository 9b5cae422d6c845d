import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';

export interface VelocityCounts {
  ip: number;
  card: number;
  email: number;
}

@Injectable()
export class FraudRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Purchases in the last hour from this IP, with this card and by this email: succeeded ones and those
   * still in flight (so that parallel attempts count too). One statement.
   */
  async countRecent(merchantId: string, ip: string | null, fingerprint: string | null, email: string): Promise<VelocityCounts> {
    const { rows } = await this.db.query<VelocityCounts>(
      `SELECT count(*) FILTER (WHERE p.client_ip = $2)::int AS ip,
              count(*) FILTER (WHERE p.card_fingerprint = $3)::int AS card,
              count(*) FILTER (WHERE c.email = lower($4))::int AS email
         FROM payments p
         JOIN customers c ON c.merchant_id = p.merchant_id AND c.id = p.customer_id
        WHERE p.merchant_id = $1
          AND p.created_at > now() - interval '1 hour'
          AND p.status IN ('processing', 'requires_action', 'succeeded', 'partially_refunded', 'refunded')
          AND (p.client_ip = $2 OR p.card_fingerprint = $3 OR c.email = lower($4))`,
      [merchantId, ip, fingerprint, email],
    );
    return rows[0];
  }
}
