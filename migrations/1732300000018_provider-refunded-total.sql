-- Up Migration

-- The most a provider has reported refunded of a payment's charge (Stripe's charge.refunded, Mercado
-- Pago's refunded payment), ours and any made in its dashboard. What it holds beyond the refunds we know
-- of is booked as refunded at the provider, when the report arrives and again whenever one of our refunds
-- fails (a refund of ours in flight hid that much of the report until then).
ALTER TABLE payments ADD COLUMN provider_refunded bigint NOT NULL DEFAULT 0 CHECK (provider_refunded >= 0);

-- Down Migration
ALTER TABLE payments DROP COLUMN provider_refunded;
