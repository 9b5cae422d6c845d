-- Up Migration

-- The coupon a session or payment used: its reservation is redeemed or released with the payment.
ALTER TABLE payments ADD COLUMN coupon_code text;
ALTER TABLE checkout_sessions ADD COLUMN coupon_code text;

-- Down Migration
ALTER TABLE checkout_sessions DROP COLUMN coupon_code;
ALTER TABLE payments DROP COLUMN coupon_code;
