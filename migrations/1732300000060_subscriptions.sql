-- Up Migration

-- The test clock (TEST_CLOCK_ENABLED=true only): each merchant's billing time runs this many seconds
-- ahead of real time. Stored here so that every instance reads the same time.
CREATE TABLE billing_clocks (
  merchant_id    text PRIMARY KEY REFERENCES merchants (id),
  offset_seconds bigint NOT NULL DEFAULT 0 CHECK (offset_seconds >= 0),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The provider's customer for one of our customers (one per provider): saved methods hang from it.
CREATE TABLE provider_customers (
  merchant_id           text NOT NULL,
  customer_id           text NOT NULL,
  provider              text NOT NULL,
  provider_customer_ref text NOT NULL,
  created_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, customer_id, provider),
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id)
);

-- A saved payment method: only the provider's references and what a customer recognizes it by.
CREATE TABLE payment_methods (
  merchant_id           text NOT NULL,
  id                    text NOT NULL,
  customer_id           text NOT NULL,
  provider              text NOT NULL,
  provider_customer_ref text NOT NULL,
  provider_method_ref   text NOT NULL,
  brand                 text NOT NULL,
  last4                 text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
  exp_month             integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
  exp_year              integer NOT NULL,
  detached_at           timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  UNIQUE (merchant_id, provider, provider_method_ref),
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id)
);

CREATE INDEX payment_methods_customer_idx ON payment_methods (merchant_id, customer_id, created_at) WHERE detached_at IS NULL;

-- A coupon's duration on subscriptions: the first invoice only (once), the invoices of the first
-- duration_in_months months (repeating), or every invoice (forever).
ALTER TABLE coupons
  ADD COLUMN duration text NOT NULL DEFAULT 'once' CHECK (duration IN ('once', 'repeating', 'forever')),
  ADD COLUMN duration_in_months integer CHECK (duration_in_months BETWEEN 1 AND 120),
  ADD CONSTRAINT coupons_duration_months CHECK ((duration = 'repeating') = (duration_in_months IS NOT NULL));

CREATE TABLE subscriptions (
  merchant_id          text NOT NULL,
  id                   text NOT NULL UNIQUE,
  customer_id          text NOT NULL,
  product_id           text NOT NULL,
  quantity             integer NOT NULL DEFAULT 1 CHECK (quantity >= 1),
  provider             text NOT NULL,
  managed_by           text NOT NULL CHECK (managed_by IN ('provider', 'paybridge')),
  status               text NOT NULL CHECK (status IN ('incomplete', 'active', 'past_due', 'canceled', 'unpaid')),
  amount               bigint NOT NULL CHECK (amount > 0),
  currency             text NOT NULL,
  interval             text NOT NULL CHECK (interval IN ('month', 'year')),
  current_period_start timestamptz,
  current_period_end   timestamptz,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  canceled_at          timestamptz,
  payment_method_id    text,
  latest_invoice_id    text,
  first_payment_id     text NOT NULL,
  -- A downgrade waiting for the period end.
  pending_product_id   text,
  pending_amount       bigint,
  -- The coupon's discount per renewal invoice, until discount_ends_at (null with a discount: forever).
  coupon_code          text,
  renewal_discount     bigint NOT NULL DEFAULT 0 CHECK (renewal_discount >= 0),
  discount_ends_at     timestamptz,
  -- When the renewal job must look at it next (renewal, retry, grace end, end of a canceled period),
  -- in the merchant's billing time; null: nothing planned.
  next_due_at          timestamptz,
  -- Claimed by a renewal run until then (real time): another instance skips it.
  claimed_until        timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id)
);

CREATE INDEX subscriptions_due_idx ON subscriptions (next_due_at) WHERE next_due_at IS NOT NULL AND managed_by = 'paybridge';
CREATE INDEX subscriptions_first_payment_idx ON subscriptions (merchant_id, first_payment_id);
CREATE INDEX subscriptions_customer_idx ON subscriptions (merchant_id, customer_id, created_at DESC);
CREATE INDEX subscriptions_listing_idx ON subscriptions (merchant_id, created_at DESC, id DESC);

CREATE TABLE invoices (
  merchant_id        text NOT NULL,
  id                 text NOT NULL,
  subscription_id    text NOT NULL,
  kind               text NOT NULL CHECK (kind IN ('first', 'renewal', 'proration')),
  status             text NOT NULL CHECK (status IN ('open', 'paid', 'void', 'uncollectible')),
  amount             bigint NOT NULL CHECK (amount >= 0),
  discount           bigint NOT NULL DEFAULT 0,
  currency           text NOT NULL,
  period_start       timestamptz NOT NULL,
  period_end         timestamptz NOT NULL,
  attempts           integer NOT NULL DEFAULT 0,
  declines           integer NOT NULL DEFAULT 0,
  -- The dunning schedule in force when the invoice first failed (days after that failure): later
  -- config changes do not move retries already planned.
  retry_days         integer[],
  first_failed_at    timestamptz,
  grace_ends_at      timestamptz,
  next_retry_at      timestamptz,
  hard_declined      boolean NOT NULL DEFAULT false,
  payment_id         text,
  -- A proration invoice moves the subscription to this product when paid.
  change_product_id  text,
  change_amount      bigint,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, subscription_id) REFERENCES subscriptions (merchant_id, id)
);

-- One renewal invoice per period.
CREATE UNIQUE INDEX invoices_renewal_period_key ON invoices (merchant_id, subscription_id, period_start) WHERE kind = 'renewal';
CREATE INDEX invoices_subscription_idx ON invoices (merchant_id, subscription_id, created_at);
CREATE UNIQUE INDEX invoices_payment_idx ON invoices (merchant_id, payment_id) WHERE payment_id IS NOT NULL;

-- The simulator's vault, kept the way an outside processor keeps saved cards.
CREATE TABLE simulator_saved_methods (
  id              text PRIMARY KEY,
  customer_ref    text NOT NULL,
  merchant_id     text NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  token           text NOT NULL,
  brand           text NOT NULL,
  last4           text NOT NULL,
  exp_month       integer NOT NULL,
  exp_year        integer NOT NULL,
  detached        boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Down Migration

DROP TABLE simulator_saved_methods;
DROP TABLE invoices;
DROP TABLE subscriptions;
ALTER TABLE coupons DROP CONSTRAINT coupons_duration_months, DROP COLUMN duration_in_months, DROP COLUMN duration;
DROP TABLE payment_methods;
DROP TABLE provider_customers;
DROP TABLE billing_clocks;
