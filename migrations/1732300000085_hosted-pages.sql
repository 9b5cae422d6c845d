-- Up Migration

-- The hosted checkout page finds a session by its id alone (the id in /pay/cs_… is the capability).
CREATE UNIQUE INDEX checkout_sessions_id_key ON checkout_sessions (id);

-- Per-merchant settings of the hosted pages: the origins whose pages may frame the checkout
-- (Content-Security-Policy frame-ancestors). Empty: only Paybridge's own origin.
CREATE TABLE merchant_settings (
  merchant_id           text PRIMARY KEY REFERENCES merchants (id),
  checkout_frame_origins text[] NOT NULL DEFAULT '{}',
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Admin console sign-ins: the cookie holds a random token whose hash is stored here with the hash of the
-- admin key it signed in with (never the key itself); every request resolves that key again, so a revoked
-- key ends its console sessions. csrf_token is the synchronizer token of the session.
CREATE TABLE console_sessions (
  token_hash   bytea PRIMARY KEY,
  key_hash     bytea NOT NULL,
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);

CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- Customer portal sessions: a short-lived URL created by the merchant's back end (the token is the capability).
CREATE TABLE portal_sessions (
  token_hash   bytea PRIMARY KEY,
  merchant_id  text NOT NULL REFERENCES merchants (id),
  customer_id  text NOT NULL,
  return_url   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  FOREIGN KEY (merchant_id, customer_id) REFERENCES customers (merchant_id, id)
);

CREATE INDEX portal_sessions_expires_idx ON portal_sessions (expires_at);

-- Down Migration

DROP TABLE portal_sessions;
DROP TABLE console_sessions;
DROP TABLE merchant_settings;
DROP INDEX checkout_sessions_id_key;
