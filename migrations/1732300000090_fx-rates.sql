-- Up Migration

-- Stored conversion rates, per merchant and ordered pair (base → quote): `rate` quote units per one base
-- unit, in major units (USD-BRL 5.4321: one dollar is 5.4321 reais). numeric keeps the decimal exactly
-- as given (never a float); the application converts with integer arithmetic (src/fx/fx-conversion.ts).
CREATE TABLE fx_rates (
  merchant_id    text NOT NULL REFERENCES merchants (id),
  base_currency  text NOT NULL CHECK (base_currency ~ '^[A-Z]{3}$'),
  quote_currency text NOT NULL CHECK (quote_currency ~ '^[A-Z]{3}$'),
  rate           numeric NOT NULL CHECK (rate > 0 AND scale(rate) <= 12),
  source         text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
  as_of          timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, base_currency, quote_currency),
  CHECK (base_currency <> quote_currency)
);

-- The merchant's consent, per product: may it be sold, through a stored rate, in a currency it has no
-- price in? Off by default: a product is charged only at the prices the merchant wrote.
ALTER TABLE products ADD COLUMN allow_conversion boolean NOT NULL DEFAULT false;

-- The rate a converted payment was priced with, as it was then: {pair, rate, source, asOf}. Null when no
-- line was converted. (Subscriptions' invoices take a column of the same name and shape.)
ALTER TABLE payments ADD COLUMN fx jsonb;

-- Down Migration
ALTER TABLE payments DROP COLUMN fx;
ALTER TABLE products DROP COLUMN allow_conversion;
DROP TABLE fx_rates;
