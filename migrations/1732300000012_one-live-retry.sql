-- Up Migration

-- An admin retry of a failed payment is a new payment; at most one may be in flight or succeeded, so two
-- retries (two admins, two keys) can never charge twice.
CREATE UNIQUE INDEX payments_one_live_retry ON payments (merchant_id, retry_of) WHERE retry_of IS NOT NULL AND status <> 'failed';

-- Down Migration
DROP INDEX payments_one_live_retry;
