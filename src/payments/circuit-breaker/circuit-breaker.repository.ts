import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface Circuit {
  provider: string;
  state: CircuitState;
  consecutiveFailures: number;
  openedAt: Date | null;
  probeStartedAt: Date | null;
  updatedAt: Date;
}

const COLUMNS = `provider, state, consecutive_failures AS "consecutiveFailures", opened_at AS "openedAt",
                 probe_started_at AS "probeStartedAt", updated_at AS "updatedAt"`;

@Injectable()
export class CircuitBreakerRepository {
  constructor(private readonly db: DatabaseService) {}

  async findAll(): Promise<Circuit[]> {
    const { rows } = await this.db.query<Circuit>(`SELECT ${COLUMNS} FROM circuit_breakers ORDER BY provider`);
    return rows;
  }

  /** One more consecutive failure; opens at the threshold, or at once when it was a half-open probe. */
  async recordFailure(provider: string, threshold: number): Promise<{ circuit: Circuit; opened: boolean }> {
    const { rows } = await this.db.query<Circuit & { opened: boolean }>(
      `WITH previous AS (
         SELECT state FROM circuit_breakers WHERE provider = $1
       ), upserted AS (
         INSERT INTO circuit_breakers AS c (provider, state, consecutive_failures, opened_at)
         VALUES ($1, CASE WHEN $2 <= 1 THEN 'open' ELSE 'closed' END, 1, CASE WHEN $2 <= 1 THEN now() END)
         ON CONFLICT (provider) DO UPDATE
            SET consecutive_failures = c.consecutive_failures + 1,
                state = CASE WHEN c.state = 'half_open' OR c.consecutive_failures + 1 >= $2 THEN 'open' ELSE c.state END,
                opened_at = CASE WHEN c.state <> 'open' AND (c.state = 'half_open' OR c.consecutive_failures + 1 >= $2) THEN now()
                                 ELSE c.opened_at END,
                probe_started_at = NULL,
                updated_at = now()
         RETURNING ${COLUMNS}
       )
       SELECT u.*, (u.state = 'open' AND coalesce((SELECT state FROM previous), 'closed') <> 'open') AS opened FROM upserted u`,
      [provider, threshold],
    );
    const { opened, ...circuit } = rows[0];
    return { circuit, opened };
  }

  /** Closes the circuit after a success; null when it was closed with no failures (nothing written). */
  async recordSuccess(provider: string): Promise<Circuit | null> {
    const { rows } = await this.db.query<Circuit>(
      `UPDATE circuit_breakers
          SET state = 'closed', consecutive_failures = 0, opened_at = NULL, probe_started_at = NULL, updated_at = now()
        WHERE provider = $1
          AND (state <> 'closed' OR consecutive_failures > 0)
       RETURNING ${COLUMNS}`,
      [provider],
    );
    return rows[0] ?? null;
  }

  /**
   * An open circuit whose open period is over lets exactly one caller through as the half-open probe
   * (a probe that never reported back is given up after the same period). True for that one caller.
   */
  async claimProbe(provider: string, openSeconds: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE circuit_breakers
          SET state = 'half_open', probe_started_at = now(), updated_at = now()
        WHERE provider = $1
          AND ((state = 'open' AND opened_at < now() - make_interval(secs => $2))
               OR (state = 'half_open' AND probe_started_at < now() - make_interval(secs => $2)))`,
      [provider, openSeconds],
    );
    return rowCount === 1;
  }

  async reset(provider: string | null): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE circuit_breakers
          SET state = 'closed', consecutive_failures = 0, opened_at = NULL, probe_started_at = NULL, updated_at = now()
        WHERE $1::text IS NULL OR provider = $1`,
      [provider],
    );
    return rowCount ?? 0;
  }
}
