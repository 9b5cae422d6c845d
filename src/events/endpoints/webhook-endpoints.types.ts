export type EndpointStatus = 'enabled' | 'disabled';

export interface WebhookEndpointRow {
  merchant_id: string;
  id: string;
  url: string;
  description: string | null;
  event_types: string[] | null;
  status: EndpointStatus;
  disabled_reason: string | null;
  failing_since: Date | null;
  last_success_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** An endpoint as the API shows it: never its secret (shown once, when it is created). */
export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  /** `["*"]`-free: the event types it receives, or every type when it named none. */
  events: string[];
  status: EndpointStatus;
  disabledReason: string | null;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toWebhookEndpoint(row: WebhookEndpointRow, allTypes: readonly string[]): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.event_types ?? [...allTypes],
    status: row.status,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since,
    lastSuccessAt: row.last_success_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewWebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  secret: string;
}

export interface WebhookEndpointChanges {
  url?: string;
  description?: string | null;
  eventTypes?: string[] | null;
  status?: EndpointStatus;
}

/** Why an endpoint was disabled. */
export type DisableReason = 'gone' | 'failing' | 'merchant';
