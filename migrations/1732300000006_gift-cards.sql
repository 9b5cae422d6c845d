-- Up Migration

CREATE TABLE gift_cards (
  merchant_id           text NOT NULL REFERENCES merchants (id),
  id                    text NOT NULL,
  code                  text NOT NULL CHECK (code ~ '^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$'),
  status                text NOT NULL CHECK (status IN ('pending', 'active', 'expired', 'canceled')),
  currency              text NOT NULL,
  initial_amount        bigint NOT NULL CHECK (initial_amount > 0),
  balance               bigint NOT NULL CHECK (balance >= 0),
  votes                 bigint NOT NULL DEFAULT 0,
  recipient_email       text NOT NULL,
  gift_message          text,
  purchaser_customer_id text,
  checkout_session_id   text,
  redeemed_by           text,
  redeemed_at           timestamptz,
  activated_at          timestamptz,
  expires_at            timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  UNIQUE (merchant_id, code),
  UNIQUE (merchant_id, checkout_session_id),
  CHECK (balance <= initial_amount)
);

CREATE INDEX gift_cards_expiry_idx ON gift_cards (expires_at) WHERE status = 'active';

-- Every change of a balance: activation, use, refund, expiry. Append-only.
CREATE TABLE gift_card_transactions (
  merchant_id   text NOT NULL,
  id            bigint GENERATED ALWAYS AS IDENTITY,
  gift_card_id  text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('activation', 'use', 'refund', 'expiry')),
  amount        bigint NOT NULL CHECK (amount > 0),
  reference     text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, id),
  FOREIGN KEY (merchant_id, gift_card_id) REFERENCES gift_cards (merchant_id, id)
);

CREATE INDEX gift_card_transactions_card_idx ON gift_card_transactions (merchant_id, gift_card_id, id);

-- Down Migration
DROP TABLE gift_card_transactions;
DROP TABLE gift_cards;
