-- Up Migration

-- Charges no payment accounts for (reconciliation's missing_locally) are held in suspense under the
-- discrepancy that found them, with no payment: their postings are found by posting id.
CREATE INDEX ledger_entries_stray_suspense_idx ON ledger_entries (merchant_id, posting_id)
  WHERE account = 'suspense' AND payment_id IS NULL;

-- Down Migration
DROP INDEX ledger_entries_stray_suspense_idx;
