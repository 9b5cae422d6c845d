import { timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain-errors';
import { randomBase62 } from '../common/ids';
import { ApiKeysService, hashApiKey } from './api-keys.service';
import type { ApiKey } from './auth.types';
import { ConsoleSessionsRepository } from './console-sessions.repository';

/** The console's cookie: a random token (its hash is stored), HttpOnly, SameSite=Strict, Secure on https. */
export const CONSOLE_COOKIE = 'pb_console';
/** The header the console's scripts send the session's CSRF token in, on every state-changing request. */
export const CSRF_HEADER = 'x-csrf-token';
const SESSION_HOURS = 8;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ConsoleSession {
  key: ApiKey;
  csrfToken: string;
}

/**
 * Admin console sign-ins. The admin key is posted once; the session keeps only its hash and resolves it
 * through ApiKeysService on every request, so a console request is exactly that key's API request (the
 * same guards, the same refusals) and a revoked key signs its sessions out.
 */
@Injectable()
export class ConsoleSessionsService {
  constructor(
    private readonly sessions: ConsoleSessionsRepository,
    private readonly keys: ApiKeysService,
  ) {}

  /** An admin key's new session: its cookie token and CSRF token; null when the key is not an active admin key. */
  async signIn(apiKey: string): Promise<{ token: string; csrfToken: string; maxAgeSeconds: number } | null> {
    const key = apiKey.length <= 200 ? await this.keys.authenticate(apiKey) : null;
    if (!key || key.kind !== 'admin') return null;
    const token = randomBase62(43);
    const csrfToken = randomBase62(43);
    await this.sessions.insert(hashApiKey(token), hashApiKey(apiKey), csrfToken, SESSION_HOURS);
    return { token, csrfToken, maxAgeSeconds: SESSION_HOURS * 3600 };
  }

  /** The session of the request's cookie, or null (no cookie, unknown, expired, or its key revoked). */
  async find(req: FastifyRequest): Promise<ConsoleSession | null> {
    const token = readCookie(req.headers.cookie, CONSOLE_COOKIE);
    if (!token || token.length > 100) return null;
    const row = await this.sessions.findActive(hashApiKey(token));
    if (!row) return null;
    const key = await this.keys.authenticateHash(row.key_hash);
    return key ? { key, csrfToken: row.csrf_token } : null;
  }

  /**
   * The session's key for an API request, after the CSRF check: a state-changing request must carry the
   * session's token in X-CSRF-Token (a synchronizer token: another site can neither read nor guess it).
   */
  async authenticate(req: FastifyRequest): Promise<ApiKey | null> {
    const session = await this.find(req);
    if (!session) return null;
    if (!SAFE_METHODS.has(req.method)) assertCsrf(req.headers[CSRF_HEADER], session.csrfToken);
    return session.key;
  }

  /** Every instance deletes ended sessions hourly (a second DELETE finds nothing: no lock needed). */
  @Interval('console-sessions-cleanup', 3_600_000)
  async deleteExpired(): Promise<void> {
    await this.sessions.deleteExpired().catch(() => undefined);
  }

  async signOut(req: FastifyRequest): Promise<void> {
    const session = await this.find(req);
    if (!session) return;
    assertCsrf(req.headers[CSRF_HEADER], session.csrfToken);
    await this.sessions.delete(hashApiKey(readCookie(req.headers.cookie, CONSOLE_COOKIE) as string));
  }
}

function assertCsrf(sent: string | string[] | undefined, expected: string): void {
  const given = Buffer.from(typeof sent === 'string' ? sent : '');
  const wanted = Buffer.from(expected);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new DomainError('forbidden', 'csrf_token_invalid', 'This console request needs the session CSRF token in X-CSRF-Token.');
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
