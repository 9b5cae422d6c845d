import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';

export interface PortalSession {
  merchantId: string;
  customerId: string;
  returnUrl: string;
  expiresAt: Date;
}

@Injectable()
export class PortalSessionsRepository {
  constructor(private readonly db: DatabaseService) {}

  async insert(tokenHash: Buffer, session: Omit<PortalSession, 'expiresAt'>, ttlMinutes: number): Promise<PortalSession> {
    const { rows } = await this.db.query<PortalSession>(
      `INSERT INTO portal_sessions (token_hash, merchant_id, customer_id, return_url, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5))
       RETURNING merchant_id AS "merchantId", customer_id AS "customerId", return_url AS "returnUrl", expires_at AS "expiresAt"`,
      [tokenHash, session.merchantId, session.customerId, session.returnUrl, ttlMinutes],
    );
    return rows[0];
  }

  async findActive(tokenHash: Buffer): Promise<PortalSession | null> {
    const { rows } = await this.db.query<PortalSession>(
      `SELECT merchant_id AS "merchantId", customer_id AS "customerId", return_url AS "returnUrl", expires_at AS "expiresAt"
         FROM portal_sessions
        WHERE token_hash = $1
          AND expires_at > now()`,
      [tokenHash],
    );
    return rows[0] ?? null;
  }

  async deleteExpired(): Promise<void> {
    await this.db.query(`DELETE FROM portal_sessions WHERE expires_at < now()`);
  }
}
