-- Up Migration

-- Segpay's refund call (SRS) has no idempotency key, so Paybridge keeps one: a refund key is claimed
-- here before SRS is called, and the credit SRS made for it is recorded after. Every instance and a
-- restarted process see the same claims, so a retry under the same key never credits the sale twice.
CREATE TABLE segpay_refund_claims (
  refund_key     text PRIMARY KEY,
  sale_tran_id   text NOT NULL,
  amount         bigint NOT NULL CHECK (amount > 0),
  currency       text NOT NULL,
  -- The sale's credits when the key was first claimed: none of them can be this refund's.
  credits_before text[] NOT NULL,
  -- Set once SRS answered with a credit (or a later attempt found it): one credit answers one key.
  credit_tran_id text UNIQUE,
  -- While an attempt is sending, no other attempt of the key sends (it waits for this one's answer).
  sending_until  timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE segpay_refund_claims;
