-- Up Migration

-- The rate limiter takes tokens in leases: one statement hands an instance several tokens, which it then
-- spends without asking again, instead of one statement per request. How many the statement granted is
-- decided from the row's count before the update, which RETURNING cannot show on PostgreSQL 15 (no
-- RETURNING old.*): the statement stores its grant here, so the instance knows which positions of the
-- window's count its lease covers. Old rows, and rows written one request at a time, granted 1.
ALTER TABLE rate_limit_counters ADD COLUMN granted integer NOT NULL DEFAULT 1;

-- Down Migration
ALTER TABLE rate_limit_counters DROP COLUMN granted;
