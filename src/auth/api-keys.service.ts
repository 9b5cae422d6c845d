import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Env } from '../config/env';
import { CacheBus } from '../common/cache/cache-bus';
import { TtlCache } from '../common/cache/ttl-cache';
import { NotFoundError } from '../common/errors/domain-errors';
import { newId, randomBase62 } from '../common/ids';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKey, KEY_PREFIXES, KeyKind } from './auth.types';

export function hashApiKey(plaintext: string): Buffer {
  return createHash('sha256').update(plaintext).digest();
}

export interface CreatedApiKey extends ApiKey {
  /** The key itself: returned once, never stored. */
  secret: string;
}

@Injectable()
export class ApiKeysService {
  // Authentication runs on every request: hits are cached, and a revocation reaches every instance
  // through the cache bus (LISTEN/NOTIFY) within a second.
  private readonly cache: TtlCache<ApiKey | null>;

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly bus: CacheBus,
    config: ConfigService<Env, true>,
  ) {
    this.cache = new TtlCache(config.get('CACHE_TTL_SECONDS', { infer: true }) * 1000);
    bus.subscribe('api_keys', () => this.cache.clear());
  }

  async create(merchantId: string, kind: KeyKind, label: string | null = null): Promise<CreatedApiKey> {
    const secret = KEY_PREFIXES[kind] + randomBase62(32);
    const key = await this.keys.insert({ merchantId, id: newId('key'), kind, hash: hashApiKey(secret), last4: secret.slice(-4), label });
    return { ...key, secret };
  }

  /** The active key for this plaintext, or null. */
  authenticate(plaintext: string): Promise<ApiKey | null> {
    return this.authenticateHash(hashApiKey(plaintext));
  }

  /** The active key whose hash this is (a console session keeps the hash, never the key). */
  authenticateHash(hash: Buffer): Promise<ApiKey | null> {
    return this.cache.getOrLoad(hash.toString('hex'), () => this.keys.findActiveByHash(hash));
  }

  async revoke(merchantId: string, id: string): Promise<ApiKey> {
    const key = await this.keys.revoke(merchantId, id);
    if (!key) throw new NotFoundError('api key', id);
    await this.bus.publish('api_keys');
    return key;
  }
}
