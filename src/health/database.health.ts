import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DatabaseService } from '../database/database.service';

@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly db: DatabaseService,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'database') {
    const indicator = this.health.check(key);
    const started = Date.now();
    try {
      await this.db.query('SELECT 1');
      return indicator.up({ latencyMs: Date.now() - started, pool: this.db.stats() });
    } catch (err) {
      return indicator.down({ message: (err as Error).message });
    }
  }
}
