-- Up Migration

-- Disputes (chargebacks): one row per provider dispute, tied to the payment whose charge it disputes.
-- Written only from a provider event confirmed by its provider (DisputeEvents); the ledger postings it
-- causes are in ledger_entries (posting ids dispute_withdrawal:<id>, dispute_fee:<id>, dispute_reinstatement:<id>).
CREATE TABLE disputes (
  merchant_id           text NOT NULL,
  id                    text NOT NULL UNIQUE,
  payment_id            text NOT NULL,
  provider              text NOT NULL,
  provider_ref          text NOT NULL,
  charge_ref            text NOT NULL,
  amount                bigint NOT NULL CHECK (amount > 0),
  currency              text NOT NULL,
  reason                text,
  status                text NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost')),
  provider_status       text NOT NULL,
  evidence_due_by       timestamptz,
  evidence_text         text,
  evidence_submitted_at timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  UNIQUE (provider, provider_ref)
);

CREATE INDEX disputes_merchant_created_idx ON disputes (merchant_id, created_at DESC, id DESC);
CREATE INDEX disputes_payment_idx ON disputes (merchant_id, payment_id);

-- The simulator's own records of the disputes it opened (what its confirmEvent looks up).
CREATE TABLE simulator_disputes (
  id           text PRIMARY KEY,
  charge_id    text NOT NULL REFERENCES simulator_charges (id),
  merchant_id  text NOT NULL,
  amount       bigint NOT NULL,
  currency     text NOT NULL,
  reason       text NOT NULL,
  status       text NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost')),
  fee          bigint NOT NULL DEFAULT 0,
  evidence     text,
  evidence_due_by timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE simulator_disputes;
DROP TABLE disputes;
