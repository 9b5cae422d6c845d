-- Up Migration

-- Who made a refund: a request to this API, or the merchant at the provider (its dashboard), recorded from
-- the provider's report. Until now the latter was told apart by its reason, which API clients also set.
ALTER TABLE refunds ADD COLUMN origin text NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'provider'));
UPDATE refunds SET origin = 'provider', reason = NULL WHERE reason = 'refunded at the provider' AND idempotency_key IS NULL;
-- Every insert says which (the default served only the rows above).
ALTER TABLE refunds ALTER COLUMN origin DROP DEFAULT;

-- Down Migration
UPDATE refunds SET reason = 'refunded at the provider' WHERE origin = 'provider';
ALTER TABLE refunds DROP COLUMN origin;
