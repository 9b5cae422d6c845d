import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { DatabaseService } from '../../database/database.service';
import type { Executor } from '../../database/database.types';

export const CACHE_ENTITIES = ['products', 'coupons', 'api_keys', 'circuits'] as const;
export type CacheEntity = (typeof CACHE_ENTITIES)[number];

const CHANNEL = 'paybridge_cache';
const RECONNECT_DELAY_MS = 1000;

/**
 * Cross-instance cache invalidation over PostgreSQL LISTEN/NOTIFY. `publish` drops the local cache at
 * once and again when its transaction commits, and sends a NOTIFY (inside a transaction it is delivered
 * on commit); every instance's listener, on its own dedicated connection, drops its copy when the
 * notification arrives. While the listener is disconnected notifications may be missed, so every cache
 * is dropped when it reconnects.
 */
@Injectable()
export class CacheBus implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(CacheBus.name);
  private readonly handlers = new Map<CacheEntity, Array<() => void>>();
  private listener?: Client;
  private closing = false;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(private readonly db: DatabaseService) {}

  subscribe(entity: CacheEntity, invalidate: () => void): void {
    this.handlers.set(entity, [...(this.handlers.get(entity) ?? []), invalidate]);
  }

  async publish(entity: CacheEntity, executor: Executor = this.db): Promise<void> {
    this.invalidateLocal(entity);
    // A read on this instance between now and the commit loads the old rows: dropped again at commit
    // (of the transaction this runs in, if any), not only when this instance's own notification comes back.
    this.db.afterCommit(() => this.invalidateLocal(entity));
    await executor.query('SELECT pg_notify($1, $2)', [CHANNEL, entity]);
  }

  async onModuleInit(): Promise<void> {
    // The API still starts (and /health reports 503) when the database is down at boot.
    await this.listen().catch((err: unknown) => {
      this.logger.warn({ err }, 'cache listener could not connect; retrying');
      this.scheduleReconnect();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => undefined);
  }

  private invalidateLocal(entity: CacheEntity): void {
    for (const invalidate of this.handlers.get(entity) ?? []) invalidate();
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.db.url, application_name: 'paybridge-cache-listener' });
    client.on('notification', (msg) => {
      if ((CACHE_ENTITIES as readonly string[]).includes(msg.payload ?? '')) this.invalidateLocal(msg.payload as CacheEntity);
    });
    client.on('error', (err) => {
      this.logger.warn({ err }, 'cache listener connection failed; reconnecting');
      this.scheduleReconnect();
    });
    client.on('end', () => this.scheduleReconnect());
    this.listener = client;
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      for (const entity of CACHE_ENTITIES) this.invalidateLocal(entity);
      this.listen().catch(() => this.scheduleReconnect());
    }, RECONNECT_DELAY_MS);
  }
}
