-- Up Migration

-- GET /events: a merchant's events, newest first.
CREATE INDEX outbox_events_merchant_seq_idx ON outbox_events (merchant_id, seq DESC);

-- Merchants' webhook endpoints (Standard Webhooks). The secret signs every delivery, so it is kept as
-- issued (a hash could not sign); the API shows it once, in the answer that creates the endpoint.
CREATE TABLE webhook_endpoints (
  merchant_id     text NOT NULL REFERENCES merchants (id),
  id              text NOT NULL UNIQUE,
  url             text NOT NULL,
  description     text,
  event_types     text[],
  secret          text NOT NULL,
  status          text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  disabled_reason text,
  -- The first failure since the last success: an endpoint failing for days without one is disabled.
  failing_since   timestamptz,
  last_success_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  PRIMARY KEY (merchant_id, id)
);

-- Fan-out reads a merchant's enabled endpoints for every event.
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (merchant_id) WHERE status = 'enabled' AND deleted_at IS NULL;

-- One row per (event, sink target): a merchant endpoint (target = its id) or a broker (target = the sink).
-- Written by the relay from outbox rows it has not fanned out yet (outbox_events.published_at marks them).
CREATE TABLE event_deliveries (
  id               text PRIMARY KEY,
  merchant_id      text NOT NULL,
  event_id         text NOT NULL,
  event_seq        bigint NOT NULL,
  event_type       text NOT NULL,
  event_created_at timestamptz NOT NULL,
  aggregate_key    text NOT NULL,
  sink             text NOT NULL,
  target           text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed', 'delivered', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  UNIQUE (target, merchant_id, event_id)
);

-- The claim reads only undelivered rows: delivered and dead ones (the audit trail) do not slow it.
CREATE INDEX event_deliveries_due_idx ON event_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
-- Order per aggregate: is an earlier delivery of the same aggregate to the same target still open?
CREATE INDEX event_deliveries_open_aggregate_idx ON event_deliveries (target, aggregate_key, event_seq) WHERE status IN ('pending', 'failed');
CREATE INDEX event_deliveries_target_idx ON event_deliveries (target, event_seq DESC);
CREATE INDEX event_deliveries_event_idx ON event_deliveries (merchant_id, event_id);

-- Every attempt, kept: what the merchant sees at /webhook-endpoints/:id/deliveries.
CREATE TABLE event_delivery_attempts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id  text NOT NULL REFERENCES event_deliveries (id),
  attempt      integer NOT NULL,
  attempted_at timestamptz NOT NULL,
  duration_ms  integer NOT NULL,
  status_code  integer,
  error        text
);

CREATE INDEX event_delivery_attempts_delivery_idx ON event_delivery_attempts (delivery_id, id);

-- Down Migration
DROP TABLE event_delivery_attempts;
DROP TABLE event_deliveries;
DROP TABLE webhook_endpoints;
DROP INDEX outbox_events_merchant_seq_idx;
