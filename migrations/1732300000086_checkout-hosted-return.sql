-- Up Migration

-- Whether the session's provider page was opened by Paybridge's hosted checkout page (its decline link
-- returns there) rather than by POST /payments/checkout (the shop's cancelUrl): the hosted page reuses
-- such a provider page instead of opening another.
ALTER TABLE checkout_sessions ADD COLUMN provider_page_returns_to_hosted boolean NOT NULL DEFAULT false;

-- Down Migration

ALTER TABLE checkout_sessions DROP COLUMN provider_page_returns_to_hosted;
