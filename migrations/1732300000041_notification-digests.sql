-- Up Migration

-- Scheduled notification digests sent (Discord's daily revenue): a day is sent once, whichever instance
-- runs the job, and a day whose send failed is tried again on the next run.
CREATE TABLE notification_digests (
  kind    text NOT NULL,
  day     date NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, day)
);

-- Down Migration
DROP TABLE notification_digests;
