-- Up Migration

-- A payment (or checkout) paid partly or wholly with a gift card: the card part is taken from the card
-- in the transaction that records the payment; the provider is charged only for the rest.
ALTER TABLE payments ADD COLUMN gift_card_code text, ADD COLUMN gift_card_amount bigint NOT NULL DEFAULT 0 CHECK (gift_card_amount >= 0);
ALTER TABLE payments ADD CONSTRAINT payments_gift_card_within_amount CHECK (gift_card_amount <= amount);
ALTER TABLE checkout_sessions ADD COLUMN gift_card_code text;

-- How a refund was split between the provider and the gift card (the provider part first).
ALTER TABLE refunds ADD COLUMN gift_card_amount bigint NOT NULL DEFAULT 0 CHECK (gift_card_amount >= 0);

-- Down Migration
ALTER TABLE refunds DROP COLUMN gift_card_amount;
ALTER TABLE checkout_sessions DROP COLUMN gift_card_code;
ALTER TABLE payments DROP CONSTRAINT payments_gift_card_within_amount;
ALTER TABLE payments DROP COLUMN gift_card_amount, DROP COLUMN gift_card_code;
