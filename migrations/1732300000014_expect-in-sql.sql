-- Up Migration

-- A check a statement makes on its own result ("did my UPDATE find the row?"), failing the statement,
-- and so the transaction, when it does not hold. A check made in JavaScript needs the statement's answer
-- before COMMIT may be sent; one made here lets COMMIT leave with the statement (one round trip fewer).
-- The SQLSTATE says which error the API answers (api-exception.filter.ts).
CREATE FUNCTION paybridge_expect(ok boolean, state text, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message;
  END IF;
  RETURN true;
END
$$;

-- Down Migration
DROP FUNCTION paybridge_expect(boolean, text, text);
