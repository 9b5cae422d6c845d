import type { DomainEvent } from '../events.types';

export const DELIVERY_STATUSES = ['pending', 'failed', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** The sink of a merchant's endpoints (target: the endpoint id); other sinks are their own target. */
export const ENDPOINT_SINK = 'webhook_endpoint';

/** A delivery claimed by this instance, with what its sink needs to send it. */
export interface ClaimedDelivery {
  id: string;
  merchantId: string;
  eventId: string;
  eventType: string;
  sink: string;
  target: string;
  /** This attempt's number (1 = the first since the delivery was created or resent). */
  attempt: number;
  event: DomainEvent;
  eventCreatedAt: Date;
  endpoint: { url: string; secret: string; enabled: boolean } | null;
  /** What the sink prepared when the delivery was created (Sink.prepare), if it did. */
  prepared: Record<string, unknown> | null;
}

/** A delivery just created by fan-out, for its sink's prepare step. */
export interface FannedOutDelivery {
  id: string;
  merchantId: string;
  eventId: string;
}

/** A delivery that became dead, as other sinks hear of it. */
export interface DeadDelivery {
  id: string;
  merchantId: string;
  eventId: string;
  eventType: string;
  sink: string;
  target: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

export interface ClaimedDeliveryRow {
  id: string;
  merchant_id: string;
  event_id: string;
  event_type: string;
  sink: string;
  target: string;
  attempts: number;
  payload: DomainEvent;
  event_created_at: Date;
  endpoint_url: string | null;
  endpoint_secret: string | null;
  endpoint_enabled: boolean | null;
  prepared_payload: Record<string, unknown> | null;
}

export function toClaimedDelivery(row: ClaimedDeliveryRow): ClaimedDelivery {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    eventId: row.event_id,
    eventType: row.event_type,
    sink: row.sink,
    target: row.target,
    attempt: row.attempts,
    event: row.payload,
    eventCreatedAt: row.event_created_at,
    endpoint:
      row.endpoint_url === null
        ? null
        : { url: row.endpoint_url, secret: row.endpoint_secret as string, enabled: row.endpoint_enabled === true },
    prepared: row.prepared_payload,
  };
}

/** What one attempt came to, as the relay records it. */
export interface AttemptOutcome {
  delivered: boolean;
  statusCode?: number;
  error?: string;
  /** The recipient asked to wait this long before the next attempt (Retry-After). */
  retryAfterMs?: number;
  durationMs: number;
  attemptedAt: Date;
}

export interface DeliveryAttempt {
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  sink: string;
  endpointId?: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
  attemptLog?: DeliveryAttempt[];
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  sink: string;
  target: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
  created_at: Date;
  attempt_log?: Array<{ attempt: number; attempted_at: string; duration_ms: number; status_code: number | null; error: string | null }>;
}

export function toDelivery(row: DeliveryRow): Delivery {
  const open = row.status === 'pending' || row.status === 'failed';
  const delivery: Delivery = {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    sink: row.sink,
    ...(row.sink === ENDPOINT_SINK ? { endpointId: row.target } : {}),
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: open ? row.next_attempt_at : null,
    deliveredAt: row.delivered_at,
    createdAt: row.created_at,
  };
  if (row.attempt_log) {
    delivery.attemptLog = row.attempt_log.map((a) => ({
      attempt: a.attempt,
      attemptedAt: new Date(a.attempted_at),
      durationMs: a.duration_ms,
      statusCode: a.status_code,
      error: a.error,
    }));
  }
  return delivery;
}
