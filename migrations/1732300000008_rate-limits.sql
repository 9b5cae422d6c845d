-- Up Migration

-- Request counters of the general rate limit, shared by every instance: one row per (merchant, bucket,
-- API key, client address, one-minute window), bumped by one INSERT … ON CONFLICT DO UPDATE per request.
-- UNLOGGED: throwaway state, so no WAL for the per-request write (a crash empties it, which only resets
-- the counts). A low fillfactor leaves room on each page for HOT updates of the same row. Windows that
-- have ended are deleted every minute (RateLimitCleanupJob).
CREATE UNLOGGED TABLE rate_limit_counters (
  merchant_id  text NOT NULL,
  bucket       text NOT NULL,
  api_key_id   text NOT NULL,
  client_ip    text NOT NULL,
  window_start timestamptz NOT NULL,
  count        integer NOT NULL,
  PRIMARY KEY (merchant_id, bucket, api_key_id, client_ip, window_start)
) WITH (fillfactor = 70);

-- Down Migration
DROP TABLE rate_limit_counters;
