-- Up Migration

-- A pending refund the processor gave up on (card closed, say): it never settles.
ALTER TABLE simulator_refunds ADD COLUMN failed boolean NOT NULL DEFAULT false;

-- A charge waiting on 3-D Secure can be canceled (the merchant gave up waiting): it can no longer succeed.
ALTER TABLE simulator_charges DROP CONSTRAINT simulator_charges_status_check;
ALTER TABLE simulator_charges ADD CONSTRAINT simulator_charges_status_check
  CHECK (status IN ('succeeded', 'requires_action', 'declined', 'failed', 'canceled'));

-- Down Migration
ALTER TABLE simulator_charges DROP CONSTRAINT simulator_charges_status_check;
ALTER TABLE simulator_charges ADD CONSTRAINT simulator_charges_status_check
  CHECK (status IN ('succeeded', 'requires_action', 'declined', 'failed'));
ALTER TABLE simulator_refunds DROP COLUMN failed;
