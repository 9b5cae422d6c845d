-- Up Migration

-- Coupons are addressed by their code (a slug such as SUMMER20), stored upper case: the code is the
-- identity, unique per merchant, and lookups upper-case what the client typed. No sequential ids.
-- reserved_count and redeemed_count are kept on the row so that one conditional UPDATE can enforce
-- max_redemptions under concurrency on any number of instances (reserved + redeemed < max).
CREATE TABLE coupons (
  merchant_id        text NOT NULL REFERENCES merchants (id),
  code               text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{2,63}$'),
  type               text NOT NULL CHECK (type IN ('FLAT', 'PERCENTAGE')),
  -- FLAT: minor units of currency. PERCENTAGE: whole percent, 1..100.
  amount_off         bigint CHECK (amount_off > 0),
  currency           text CHECK (currency ~ '^[A-Z]{3}$'),
  percent_off        integer CHECK (percent_off BETWEEN 1 AND 100),
  -- Empty: the whole cart. Otherwise only lines of these products are discounted.
  product_ids        text[] NOT NULL DEFAULT '{}',
  max_redemptions    integer CHECK (max_redemptions >= 1),
  per_customer_limit integer CHECK (per_customer_limit >= 1),
  starts_at          timestamptz,
  expires_at         timestamptz,
  active             boolean NOT NULL DEFAULT true,
  reserved_count     integer NOT NULL DEFAULT 0 CHECK (reserved_count >= 0),
  redeemed_count     integer NOT NULL DEFAULT 0 CHECK (redeemed_count >= 0),
  metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, code),
  CONSTRAINT coupons_type_fields CHECK (
    (type = 'FLAT' AND amount_off IS NOT NULL AND currency IS NOT NULL AND percent_off IS NULL)
    OR (type = 'PERCENTAGE' AND percent_off IS NOT NULL AND amount_off IS NULL AND currency IS NULL)
  ),
  CONSTRAINT coupons_window CHECK (starts_at IS NULL OR expires_at IS NULL OR expires_at > starts_at)
);

CREATE INDEX coupons_listing_idx ON coupons (merchant_id, created_at DESC, code DESC);

-- One row per use of a coupon by a checkout session or a direct payment: reserved when the checkout or
-- payment is created, redeemed when its payment succeeds, released when it expires, is canceled or fails.
CREATE TABLE coupon_redemptions (
  merchant_id         text NOT NULL,
  id                  text NOT NULL,
  coupon_code         text NOT NULL,
  checkout_session_id text,
  payment_id          text,
  customer_email      text NOT NULL CHECK (customer_email = lower(customer_email)),
  customer_id         text,
  status              text NOT NULL CHECK (status IN ('reserved', 'redeemed', 'released')),
  discount            bigint CHECK (discount >= 0),
  currency            text CHECK (currency ~ '^[A-Z]{3}$'),
  reserved_at         timestamptz NOT NULL DEFAULT now(),
  redeemed_at         timestamptz,
  released_at         timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, coupon_code) REFERENCES coupons (merchant_id, code),
  -- A session or payment holds at most one reservation of a coupon: what makes reserve() idempotent.
  CONSTRAINT coupon_redemptions_session_key UNIQUE (merchant_id, coupon_code, checkout_session_id),
  CONSTRAINT coupon_redemptions_payment_key UNIQUE (merchant_id, coupon_code, payment_id),
  CONSTRAINT coupon_redemptions_reference CHECK (checkout_session_id IS NOT NULL OR payment_id IS NOT NULL)
);

-- perCustomerLimit counts a customer's live (reserved or redeemed) uses of a coupon.
CREATE INDEX coupon_redemptions_customer_idx
  ON coupon_redemptions (merchant_id, coupon_code, customer_email)
  WHERE status IN ('reserved', 'redeemed');

-- Down Migration
DROP TABLE coupon_redemptions;
DROP TABLE coupons;
