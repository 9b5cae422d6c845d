-- Up Migration

-- A hosted checkout that must save the customer's method for later charges (a cart with subscriptions,
-- or savePaymentMethod: true): the provider's page saves it (as Stripe's setup_future_usage: off_session)
-- and the completion carries its reference.
ALTER TABLE checkout_sessions ADD COLUMN save_payment_method boolean NOT NULL DEFAULT false;

-- The simulator's hosted page saves the card in its vault when its session asks for it, for the provider
-- customer the session names (or a new one). The vault's idempotency key `hosted:<session>` ties the saved
-- card to the session's charge.
ALTER TABLE simulator_sessions ADD COLUMN save_method boolean NOT NULL DEFAULT false;
ALTER TABLE simulator_sessions ADD COLUMN customer_ref text;

-- Down Migration
ALTER TABLE simulator_sessions DROP COLUMN customer_ref;
ALTER TABLE simulator_sessions DROP COLUMN save_method;
ALTER TABLE checkout_sessions DROP COLUMN save_payment_method;
