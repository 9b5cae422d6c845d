-- Up Migration

-- GET /admin/dead-letters?direction=outbound: a merchant's dead deliveries, newest event first, without
-- reading the delivered ones (the bulk of the table).
CREATE INDEX event_deliveries_dead_idx ON event_deliveries (merchant_id, event_seq DESC, id DESC) WHERE status = 'dead';

-- Down Migration
DROP INDEX event_deliveries_dead_idx;
