-- Up Migration

CREATE TABLE customers (
  merchant_id text NOT NULL REFERENCES merchants (id),
  id          text NOT NULL,
  email       text NOT NULL CHECK (email = lower(email)),
  name        text,
  country     text CHECK (country ~ '^[A-Z]{2}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  UNIQUE (merchant_id, email)
);

CREATE TABLE checkout_sessions (
  merchant_id         text NOT NULL REFERENCES merchants (id),
  id                  text NOT NULL,
  status              text NOT NULL CHECK (status IN ('open', 'complete', 'expired', 'canceled')),
  currency            text NOT NULL,
  subtotal            bigint NOT NULL CHECK (subtotal >= 0),
  discount            bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
  gift_card_applied   bigint NOT NULL DEFAULT 0 CHECK (gift_card_applied >= 0),
  total               bigint NOT NULL CHECK (total >= 0),
  lines               jsonb NOT NULL,
  customer_id         text NOT NULL,
  provider            text,
  provider_session_id text,
  url                 text,
  success_url         text NOT NULL,
  cancel_url          text NOT NULL,
  payment_id          text,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  idempotency_key     text,
  expires_at          timestamptz NOT NULL,
  completed_at        timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id),
  CHECK (total = subtotal - discount - gift_card_applied)
);

CREATE UNIQUE INDEX checkout_sessions_idempotency_key ON checkout_sessions (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX checkout_sessions_provider_session_key ON checkout_sessions (merchant_id, provider, provider_session_id);
CREATE INDEX checkout_sessions_open_expiry_idx ON checkout_sessions (expires_at) WHERE status = 'open';

CREATE TABLE payments (
  merchant_id          text NOT NULL REFERENCES merchants (id),
  id                   text NOT NULL,
  status               text NOT NULL CHECK (status IN ('pending', 'processing', 'requires_action', 'succeeded', 'failed',
                                                       'canceled', 'partially_refunded', 'refunded')),
  amount               bigint NOT NULL CHECK (amount >= 0),
  amount_refunded      bigint NOT NULL DEFAULT 0,
  -- Refunds in flight hold their amount here, so that racing refunds can never exceed the payment.
  amount_refund_pending bigint NOT NULL DEFAULT 0,
  currency             text NOT NULL,
  provider             text,
  provider_ref         text,
  customer_id          text NOT NULL,
  checkout_session_id  text,
  lines                jsonb,
  discount             bigint NOT NULL DEFAULT 0,
  failure_code         text,
  failure_message      text,
  decline_code         text,
  next_action          jsonb,
  idempotency_key      text,
  retry_of             text,
  metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id),
  CHECK (amount_refunded >= 0 AND amount_refund_pending >= 0 AND amount_refunded + amount_refund_pending <= amount)
);

CREATE UNIQUE INDEX payments_idempotency_key ON payments (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX payments_provider_ref_key ON payments (merchant_id, provider, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_listing_idx ON payments (merchant_id, created_at DESC, id DESC);
CREATE INDEX payments_unresolved_idx ON payments (updated_at) WHERE status IN ('processing', 'pending');
CREATE INDEX payments_session_idx ON payments (merchant_id, checkout_session_id) WHERE checkout_session_id IS NOT NULL;
CREATE INDEX payments_customer_idx ON payments (merchant_id, customer_id);

-- One row per call to a provider: which provider, under which idempotency key, with what outcome.
CREATE TABLE payment_attempts (
  merchant_id      text NOT NULL,
  id               text NOT NULL,
  payment_id       text NOT NULL,
  provider         text NOT NULL,
  provider_key     text NOT NULL,
  -- The provider's payment-method token (never card data): lets an admin retry a failed charge.
  payment_method   text,
  status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'requires_action', 'declined', 'failed', 'unknown')),
  provider_ref     text,
  error_code       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  PRIMARY KEY (merchant_id, id),
  UNIQUE (merchant_id, provider, provider_key),
  FOREIGN KEY (merchant_id, payment_id) REFERENCES payments (merchant_id, id)
);

CREATE INDEX payment_attempts_payment_idx ON payment_attempts (merchant_id, payment_id);

-- The timeline: status changes, provider attempts, webhook receipts, refunds. Append-only.
CREATE TABLE payment_events (
  merchant_id  text NOT NULL,
  id           bigint GENERATED ALWAYS AS IDENTITY,
  payment_id   text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('status_changed', 'attempt', 'webhook', 'refund', 'note')),
  from_status  text,
  to_status    text,
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (merchant_id, id)
);

CREATE INDEX payment_events_payment_idx ON payment_events (merchant_id, payment_id, id);

CREATE TABLE refunds (
  merchant_id   text NOT NULL,
  id            text NOT NULL,
  payment_id    text NOT NULL,
  amount        bigint NOT NULL CHECK (amount > 0),
  currency      text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  reason        text,
  provider      text NOT NULL,
  provider_ref  text,
  failure_code  text,
  idempotency_key text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, payment_id) REFERENCES payments (merchant_id, id)
);

CREATE UNIQUE INDEX refunds_idempotency_key ON refunds (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX refunds_payment_idx ON refunds (merchant_id, payment_id);
CREATE INDEX refunds_pending_idx ON refunds (updated_at) WHERE status = 'pending';

-- Double-entry ledger: immutable. Each posting's entries balance per currency (checked before insert).
CREATE TABLE ledger_entries (
  merchant_id  text NOT NULL,
  id           bigint GENERATED ALWAYS AS IDENTITY,
  posting_id   text NOT NULL,
  kind         text NOT NULL,
  account      text NOT NULL,
  direction    text NOT NULL CHECK (direction IN ('debit', 'credit')),
  amount       bigint NOT NULL CHECK (amount > 0),
  currency     text NOT NULL,
  payment_id   text,
  refund_id    text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id)
);

CREATE INDEX ledger_entries_account_idx ON ledger_entries (merchant_id, currency, account);
CREATE INDEX ledger_entries_payment_idx ON ledger_entries (merchant_id, payment_id);

CREATE FUNCTION ledger_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are immutable' USING ERRCODE = '55000';
END $$;

CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_entries_immutable();

-- Transactional outbox: written in the same transaction as the change it reports.
CREATE TABLE outbox_events (
  merchant_id    text NOT NULL,
  id             text NOT NULL,
  seq            bigint GENERATED ALWAYS AS IDENTITY,
  type           text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id   text NOT NULL,
  payload        jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  PRIMARY KEY (merchant_id, id)
);

CREATE INDEX outbox_events_unpublished_idx ON outbox_events (seq) WHERE published_at IS NULL;

-- Inbound provider webhooks, stored (deduplicated by provider event id) before anything else happens.
CREATE TABLE payment_webhook_events (
  id              text NOT NULL UNIQUE,
  provider        text NOT NULL,
  event_id        text NOT NULL,
  merchant_id     text,
  type            text NOT NULL,
  payload         jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'ignored', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  received_at     timestamptz NOT NULL DEFAULT now(),
  processed_at    timestamptz,
  PRIMARY KEY (provider, event_id)
);

CREATE INDEX payment_webhook_events_due_idx ON payment_webhook_events (next_attempt_at) WHERE status = 'pending';

-- The simulator provider's own records, kept the way an outside processor keeps them: our recovery asks
-- it what happened instead of trusting our own rows.
CREATE TABLE simulator_charges (
  id               text PRIMARY KEY,
  merchant_id      text NOT NULL,
  idempotency_key  text NOT NULL UNIQUE,
  token            text NOT NULL,
  amount           bigint NOT NULL,
  currency         text NOT NULL,
  status           text NOT NULL CHECK (status IN ('succeeded', 'requires_action', 'declined', 'failed')),
  decline_code     text,
  amount_refunded  bigint NOT NULL DEFAULT 0 CHECK (amount_refunded <= amount),
  reference        text,
  session_id       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE simulator_sessions (
  id               text PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE,
  reference        text NOT NULL,
  merchant_id      text NOT NULL,
  amount           bigint NOT NULL,
  currency         text NOT NULL,
  lines            jsonb NOT NULL,
  success_url      text NOT NULL,
  cancel_url       text NOT NULL,
  status           text NOT NULL CHECK (status IN ('open', 'complete', 'canceled')),
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE simulator_refunds (
  id               text PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE,
  charge_id        text NOT NULL REFERENCES simulator_charges (id),
  amount           bigint NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE simulator_refunds;
DROP TABLE simulator_sessions;
DROP TABLE simulator_charges;
DROP TABLE payment_webhook_events;
DROP TABLE outbox_events;
DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_immutable;
DROP TABLE refunds;
DROP TABLE payment_events;
DROP TABLE payment_attempts;
DROP TABLE payments;
DROP TABLE checkout_sessions;
DROP TABLE customers;
