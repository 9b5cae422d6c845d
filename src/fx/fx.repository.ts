import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../common/pagination';
import { DatabaseService } from '../database/database.service';
import type { Executor } from '../database/database.types';
import { FxRate, FxRateRow, toFxRate } from './fx.types';

const COLUMNS = `merchant_id, base_currency, quote_currency, rate::text AS rate, source, as_of, created_at, updated_at`;

@Injectable()
export class FxRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Sets the pair's rate (one row per pair: the payments that used the old one keep their own copy). */
  async upsert(
    merchantId: string,
    rate: Pick<FxRate, 'base' | 'quote' | 'rate' | 'source' | 'asOf'>,
    executor: Executor = this.db,
  ): Promise<FxRate> {
    const { rows } = await executor.query<FxRateRow>(
      `INSERT INTO fx_rates (merchant_id, base_currency, quote_currency, rate, source, as_of)
       VALUES ($1, $2, $3, $4::numeric, $5, $6)
       ON CONFLICT (merchant_id, base_currency, quote_currency) DO UPDATE
          SET rate = excluded.rate,
              source = excluded.source,
              as_of = excluded.as_of,
              updated_at = now()
       RETURNING ${COLUMNS}`,
      [merchantId, rate.base, rate.quote, rate.rate, rate.source, rate.asOf],
    );
    return toFxRate(rows[0]);
  }

  async findByPair(merchantId: string, base: string, quote: string, executor: Executor = this.db): Promise<FxRate | null> {
    const { rows } = await executor.query<FxRateRow>(
      `SELECT ${COLUMNS}
         FROM fx_rates
        WHERE merchant_id = $1
          AND base_currency = $2
          AND quote_currency = $3`,
      [merchantId, base, quote],
    );
    return rows[0] ? toFxRate(rows[0]) : null;
  }

  /** The rates into `quote` from any of `bases`: what pricing a cart in `quote` may use. */
  async findInto(merchantId: string, quote: string, bases: string[], executor: Executor = this.db): Promise<FxRate[]> {
    const { rows } = await executor.query<FxRateRow>(
      `SELECT ${COLUMNS}
         FROM fx_rates
        WHERE merchant_id = $1
          AND quote_currency = $2
          AND base_currency = ANY($3::text[])`,
      [merchantId, quote, bases],
    );
    return rows.map(toFxRate);
  }

  /** By pair (base, then quote); fetches limit + 1 rows. The cursor is a pair ("USD-BRL"). */
  async list(merchantId: string, page: PageRequest, executor: Executor = this.db): Promise<FxRate[]> {
    const [afterBase, afterQuote] = page.startingAfter?.split('-') ?? [];
    const { rows } = await executor.query<FxRateRow>(
      `SELECT ${COLUMNS}
         FROM fx_rates
        WHERE merchant_id = $1
          AND ($2::text IS NULL OR (base_currency, quote_currency) > ($2, $3))
        ORDER BY base_currency, quote_currency
        LIMIT $4 OFFSET $5`,
      [merchantId, afterBase ?? null, afterQuote ?? '', page.limit + 1, page.offset],
    );
    return rows.map(toFxRate);
  }

  async count(merchantId: string, executor: Executor = this.db): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(
      `SELECT count(*)::int AS count
         FROM fx_rates
        WHERE merchant_id = $1`,
      [merchantId],
    );
    return rows[0].count;
  }
}
