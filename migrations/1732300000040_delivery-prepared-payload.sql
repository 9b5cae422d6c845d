-- Up Migration

-- What a notification sink sends, prepared when the delivery is created: Meta's hashed customer data is
-- computed at fan-out so that no delivery ever holds the raw email or name, and Slack's dead-delivery
-- notices describe a delivery that is not an outbox event of their own.
ALTER TABLE event_deliveries ADD COLUMN prepared_payload jsonb;

-- Down Migration
ALTER TABLE event_deliveries DROP COLUMN prepared_payload;
