-- Up Migration

-- One row per provider, shared by every instance. Provider health is not a merchant's data: this table
-- is not distributed by merchant (a reference table on Citus).
CREATE TABLE circuit_breakers (
  provider             text PRIMARY KEY,
  state                text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
  consecutive_failures integer NOT NULL DEFAULT 0,
  opened_at            timestamptz,
  probe_started_at     timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE circuit_breakers;
