export const KEY_KINDS = ['publishable', 'secret', 'admin'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export const KEY_PREFIXES: Record<KeyKind, string> = { publishable: 'pk_', secret: 'sk_', admin: 'ak_' };

/** Who is calling: attached to the request by the API key guard. */
export interface AuthContext {
  merchantId: string;
  keyId: string;
  kind: KeyKind;
}

export interface ApiKeyRow {
  merchant_id: string;
  id: string;
  kind: KeyKind;
  key_last4: string;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

export interface ApiKey {
  id: string;
  merchantId: string;
  kind: KeyKind;
  last4: string;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    kind: row.kind,
    last4: row.key_last4,
    label: row.label,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

export const DEFAULT_MERCHANT_ID = 'mer_default';

/**
 * The platform's own merchant. Its admin keys are the platform admins: they alone may act on what every
 * merchant shares (the circuit breaker). Any other merchant's admin key administers that merchant only.
 */
export const PLATFORM_MERCHANT_ID = DEFAULT_MERCHANT_ID;

export function isPlatformAdmin(caller: AuthContext): boolean {
  return caller.kind === 'admin' && caller.merchantId === PLATFORM_MERCHANT_ID;
}
