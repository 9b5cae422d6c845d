import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { ApiKey, ApiKeyRow, KeyKind, toApiKey } from './auth.types';

const COLUMNS = 'merchant_id, id, kind, key_last4, label, created_at, revoked_at';

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: DatabaseService) {}

  async insert(
    key: { merchantId: string; id: string; kind: KeyKind; hash: Buffer; last4: string; label: string | null },
    executor: Executor = this.db,
  ): Promise<ApiKey> {
    const { rows } = await executor.query<ApiKeyRow>(
      `INSERT INTO api_keys (merchant_id, id, kind, key_hash, key_last4, label)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${COLUMNS}`,
      [key.merchantId, key.id, key.kind, key.hash, key.last4, key.label],
    );
    return toApiKey(rows[0]);
  }

  async findActiveByHash(hash: Buffer, executor: Executor = this.db): Promise<ApiKey | null> {
    const { rows } = await executor.query<ApiKeyRow>(
      `SELECT ${COLUMNS}
         FROM api_keys
        WHERE key_hash = $1
          AND revoked_at IS NULL`,
      [hash],
    );
    return rows[0] ? toApiKey(rows[0]) : null;
  }

  async revoke(merchantId: string, id: string, executor: Executor = this.db): Promise<ApiKey | null> {
    const { rows } = await executor.query<ApiKeyRow>(
      `UPDATE api_keys
          SET revoked_at = coalesce(revoked_at, now())
        WHERE merchant_id = $1
          AND id = $2
       RETURNING ${COLUMNS}`,
      [merchantId, id],
    );
    return rows[0] ? toApiKey(rows[0]) : null;
  }

  async countByMerchant(merchantId: string, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(
      `SELECT count(*)::int AS count
         FROM api_keys
        WHERE merchant_id = $1`,
      [merchantId],
    );
    return rows[0].count;
  }
}
