-- Up Migration

-- A cart with several subscription lines is paid by one payment: each subscription's first invoice names
-- that payment. Renewal and proration invoices keep one payment each (their outcome moves one invoice).
DROP INDEX invoices_payment_idx;
CREATE UNIQUE INDEX invoices_payment_idx ON invoices (merchant_id, payment_id) WHERE payment_id IS NOT NULL AND kind <> 'first';
CREATE INDEX invoices_first_payment_idx ON invoices (merchant_id, payment_id) WHERE payment_id IS NOT NULL AND kind = 'first';

-- Down Migration
DROP INDEX invoices_first_payment_idx;
DROP INDEX invoices_payment_idx;
CREATE UNIQUE INDEX invoices_payment_idx ON invoices (merchant_id, payment_id) WHERE payment_id IS NOT NULL;
