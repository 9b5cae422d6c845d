-- Up Migration

-- Every business table carries merchant_id and every unique constraint includes it, so that the schema
-- can be distributed by merchant (Citus) later. merchants and api_keys would be reference tables there:
-- a key is looked up by its hash before the merchant is known.
CREATE TABLE merchants (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO merchants (id, name) VALUES ('mer_default', 'Default merchant');

CREATE TABLE api_keys (
  merchant_id text NOT NULL REFERENCES merchants (id),
  id          text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('publishable', 'secret', 'admin')),
  key_hash    bytea NOT NULL,
  key_last4   text NOT NULL,
  label       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  PRIMARY KEY (merchant_id, id)
);

CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);

CREATE TABLE idempotency_keys (
  merchant_id     text NOT NULL REFERENCES merchants (id),
  key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_method  text NOT NULL,
  request_path    text NOT NULL,
  request_hash    text NOT NULL,
  -- Set while one request executes under this key; a stale lock (crashed process) can be taken over.
  lock_token      uuid,
  locked_at       timestamptz,
  -- Brandur Leach's recovery point: the last atomic phase that committed.
  recovery_point  text NOT NULL DEFAULT 'started',
  response_status integer,
  response_body   text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (merchant_id, key)
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

CREATE TABLE products (
  merchant_id           text NOT NULL REFERENCES merchants (id),
  id                    text NOT NULL,
  name                  text NOT NULL,
  description           text,
  billing_type          text NOT NULL DEFAULT 'ONE_TIME' CHECK (billing_type IN ('ONE_TIME', 'SUBSCRIPTION')),
  billing_interval      text CHECK (billing_interval IN ('month', 'year')),
  type                  text NOT NULL DEFAULT 'STANDARD' CHECK (type IN ('STANDARD', 'GIFT_CARD')),
  active                boolean NOT NULL DEFAULT true,
  archived_at           timestamptz,
  stripe_product_id     text,
  segpay_package_id     text,
  segpay_price_point_id text,
  metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  CONSTRAINT products_interval_matches_billing CHECK ((billing_type = 'SUBSCRIPTION') = (billing_interval IS NOT NULL))
);

CREATE INDEX products_listing_idx ON products (merchant_id, created_at DESC, id DESC) WHERE archived_at IS NULL;

CREATE TABLE product_prices (
  merchant_id     text NOT NULL,
  product_id      text NOT NULL,
  currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  amount          bigint NOT NULL CHECK (amount >= 0),
  stripe_price_id text,
  PRIMARY KEY (merchant_id, product_id, currency),
  FOREIGN KEY (merchant_id, product_id) REFERENCES products (merchant_id, id) ON DELETE CASCADE
);

-- Down Migration
DROP TABLE product_prices;
DROP TABLE products;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE merchants;
