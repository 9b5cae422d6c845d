import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';

export interface ConsoleSessionRow {
  key_hash: Buffer;
  csrf_token: string;
}

@Injectable()
export class ConsoleSessionsRepository {
  constructor(private readonly db: DatabaseService) {}

  async insert(tokenHash: Buffer, keyHash: Buffer, csrfToken: string, ttlHours: number): Promise<void> {
    await this.db.query(
      `INSERT INTO console_sessions (token_hash, key_hash, csrf_token, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(hours => $4))`,
      [tokenHash, keyHash, csrfToken, ttlHours],
    );
  }

  async findActive(tokenHash: Buffer): Promise<ConsoleSessionRow | null> {
    const { rows } = await this.db.query<ConsoleSessionRow>(
      `SELECT key_hash, csrf_token
         FROM console_sessions
        WHERE token_hash = $1
          AND expires_at > now()`,
      [tokenHash],
    );
    return rows[0] ?? null;
  }

  async delete(tokenHash: Buffer): Promise<void> {
    await this.db.query(`DELETE FROM console_sessions WHERE token_hash = $1`, [tokenHash]);
  }

  async deleteExpired(): Promise<void> {
    await this.db.query(`DELETE FROM console_sessions WHERE expires_at < now()`);
  }
}
