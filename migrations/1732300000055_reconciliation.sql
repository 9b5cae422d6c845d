-- Up Migration

-- Reconciliation runs: one merchant's records at one provider over one window, compared with ours.
CREATE TABLE reconciliation_runs (
  merchant_id    text NOT NULL,
  id             text NOT NULL UNIQUE,
  provider       text NOT NULL,
  window_from    timestamptz NOT NULL,
  window_to      timestamptz NOT NULL,
  status         text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  checked        integer NOT NULL DEFAULT 0,
  matched        integer NOT NULL DEFAULT 0,
  discrepancies  integer NOT NULL DEFAULT 0,
  healed         integer NOT NULL DEFAULT 0,
  error          text,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  PRIMARY KEY (merchant_id, id),
  CHECK (window_from < window_to)
);

CREATE INDEX reconciliation_runs_merchant_started_idx ON reconciliation_runs (merchant_id, started_at DESC, id DESC);

-- What the provider holds for a run's window, page by page, before matching (set-based SQL). Unlogged:
-- a run lost with a crash is simply run again; rows are deleted when the run finishes.
CREATE UNLOGGED TABLE reconciliation_staging (
  run_id        text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('charge', 'refund', 'dispute')),
  provider_ref  text NOT NULL,
  status        text NOT NULL,
  amount        bigint NOT NULL,
  -- Charges: how much of it the provider shows refunded (settled refunds only).
  amount_refunded bigint,
  currency      text NOT NULL,
  reference     text,
  merchant_id   text,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (run_id, kind, provider_ref)
);

-- One discrepancy per provider record and kind: a later run finding the same one adds nothing.
CREATE TABLE reconciliation_discrepancies (
  merchant_id   text NOT NULL,
  id            text NOT NULL UNIQUE,
  run_id        text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('missing_locally', 'missing_at_provider', 'amount_mismatch', 'currency_mismatch',
                                              'status_mismatch', 'refund_mismatch', 'dispute_unrecorded')),
  provider      text NOT NULL,
  provider_ref  text NOT NULL,
  payment_id    text,
  refund_id     text,
  expected      jsonb NOT NULL,
  actual        jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'healed', 'resolved')),
  note          text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  UNIQUE (merchant_id, provider, provider_ref, kind)
);

CREATE INDEX reconciliation_discrepancies_run_idx ON reconciliation_discrepancies (merchant_id, run_id, created_at, id);
CREATE INDEX reconciliation_discrepancies_open_idx ON reconciliation_discrepancies (merchant_id, created_at, id) WHERE status = 'open';

-- Matching finds a charge's payment through the attempt that made it (a failover, or a lost webhook).
CREATE INDEX payment_attempts_provider_ref_idx ON payment_attempts (merchant_id, provider, provider_ref) WHERE provider_ref IS NOT NULL;

-- The simulator lists its records by creation time (keyset paging), as a provider's list API does.
CREATE INDEX simulator_charges_merchant_created_idx ON simulator_charges (merchant_id, created_at, id);
CREATE INDEX simulator_disputes_merchant_created_idx ON simulator_disputes (merchant_id, created_at, id);

-- Down Migration
DROP INDEX simulator_disputes_merchant_created_idx;
DROP INDEX simulator_charges_merchant_created_idx;
DROP INDEX payment_attempts_provider_ref_idx;
DROP TABLE reconciliation_discrepancies;
DROP TABLE reconciliation_staging;
DROP TABLE reconciliation_runs;
