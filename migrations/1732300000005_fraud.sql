-- Up Migration

-- What the fraud rules count: where a payment came from and which card paid it.
ALTER TABLE payments ADD COLUMN client_ip text, ADD COLUMN card_fingerprint text;

CREATE INDEX payments_velocity_ip_idx ON payments (merchant_id, client_ip, created_at) WHERE client_ip IS NOT NULL;
CREATE INDEX payments_velocity_card_idx ON payments (merchant_id, card_fingerprint, created_at) WHERE card_fingerprint IS NOT NULL;

-- Down Migration
DROP INDEX payments_velocity_card_idx;
DROP INDEX payments_velocity_ip_idx;
ALTER TABLE payments DROP COLUMN card_fingerprint, DROP COLUMN client_ip;
