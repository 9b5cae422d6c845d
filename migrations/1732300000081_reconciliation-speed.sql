-- Up Migration

-- The simulator's charges sum their unsettled refunds (retrieve): one charge's refunds by its id.
CREATE INDEX simulator_refunds_charge_idx ON simulator_refunds (charge_id);
-- Its listing (reconciliation) joins each page to the refunds not settled yet: the few failed or
-- settling later, from a small index rather than a probe per charge.
CREATE INDEX simulator_refunds_unsettled_idx ON simulator_refunds (charge_id) WHERE failed OR settles_at IS NOT NULL;

-- Staging is written as fast as the provider lists (a million rows a run): no index to maintain per
-- row; the matching removes a record listed twice (DISTINCT ON) instead of a primary key.
ALTER TABLE reconciliation_staging DROP CONSTRAINT reconciliation_staging_pkey;

-- Down Migration
ALTER TABLE reconciliation_staging ADD PRIMARY KEY (run_id, kind, provider_ref);
DROP INDEX simulator_refunds_unsettled_idx;
DROP INDEX simulator_refunds_charge_idx;
