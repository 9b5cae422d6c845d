-- Up Migration

-- The email velocity rule counts one customer's payments of the last hour: with created_at in the
-- customer index it reads only those, not every payment the customer ever made. Listing a customer's
-- payments uses it as before. Same number of indexes on payments.
CREATE INDEX payments_customer_recent_idx ON payments (merchant_id, customer_id, created_at);
DROP INDEX payments_customer_idx;

-- Down Migration
CREATE INDEX payments_customer_idx ON payments (merchant_id, customer_id);
DROP INDEX payments_customer_recent_idx;
