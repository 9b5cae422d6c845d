-- Up Migration

-- The simulator's listing sums each charge's unsettled refunds (reconciliation, retrieve): without an
-- index on charge_id every charge read every refund (a 1,000,000-charge window never finished).
CREATE INDEX simulator_refunds_charge_idx ON simulator_refunds (charge_id);

-- Down Migration
DROP INDEX simulator_refunds_charge_idx;
