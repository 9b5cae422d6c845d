-- Up Migration

-- The simulator can settle a refund later, as processors do for some methods: a refund of a charge made
-- with tok_refundPending is answered `pending` and counts as refunded from `settles_at` on. NULL: settled
-- when made (every other refund).
ALTER TABLE simulator_refunds ADD COLUMN settles_at timestamptz;

-- Down Migration
ALTER TABLE simulator_refunds DROP COLUMN settles_at;
