import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';

@Injectable()
export class MerchantSettingsRepository {
  constructor(private readonly db: DatabaseService) {}

  async findFrameOrigins(merchantId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ checkout_frame_origins: string[] }>(
      `SELECT checkout_frame_origins
         FROM merchant_settings
        WHERE merchant_id = $1`,
      [merchantId],
    );
    return rows[0]?.checkout_frame_origins ?? [];
  }

  async saveFrameOrigins(merchantId: string, origins: string[]): Promise<string[]> {
    const { rows } = await this.db.query<{ checkout_frame_origins: string[] }>(
      `INSERT INTO merchant_settings (merchant_id, checkout_frame_origins)
       VALUES ($1, $2)
       ON CONFLICT (merchant_id) DO UPDATE
         SET checkout_frame_origins = EXCLUDED.checkout_frame_origins,
             updated_at = now()
       RETURNING checkout_frame_origins`,
      [merchantId, origins],
    );
    return rows[0].checkout_frame_origins;
  }
}
