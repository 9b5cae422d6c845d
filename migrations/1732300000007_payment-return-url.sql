-- Up Migration

-- Where the customer returns after 3-D Secure: kept so that a recovery that sends the charge again
-- sends exactly the same request under the same idempotency key.
ALTER TABLE payments ADD COLUMN return_url text;

-- Down Migration
ALTER TABLE payments DROP COLUMN return_url;
