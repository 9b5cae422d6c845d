-- Up Migration

-- Settlement of a payment's charge, as its provider reports it (Stripe's balance transaction, the
-- simulator's fee and availability delay): the provider's fee, the day the money becomes available to
-- us, and whether it has. settlement_check_at drives the settlement job: when to ask the provider next
-- (null: nothing left to learn). PaymentOutcomes sets it when a charge succeeds.
ALTER TABLE payments
  ADD COLUMN settlement_status text CHECK (settlement_status IN ('pending', 'available')),
  ADD COLUMN settlement_fee bigint CHECK (settlement_fee >= 0),
  ADD COLUMN settlement_available_on timestamptz,
  ADD COLUMN settlement_check_at timestamptz;

CREATE INDEX payments_settlement_check_idx ON payments (settlement_check_at) WHERE settlement_check_at IS NOT NULL;

-- The simulator's own books: the fee it takes from a charge and when the money becomes available.
ALTER TABLE simulator_charges
  ADD COLUMN fee bigint NOT NULL DEFAULT 0,
  ADD COLUMN available_on timestamptz;

-- Down Migration
ALTER TABLE simulator_charges DROP COLUMN available_on, DROP COLUMN fee;
DROP INDEX payments_settlement_check_idx;
ALTER TABLE payments DROP COLUMN settlement_check_at, DROP COLUMN settlement_available_on, DROP COLUMN settlement_fee,
  DROP COLUMN settlement_status;
