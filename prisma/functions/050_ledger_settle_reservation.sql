-- RESERVED or EXPIRED → SETTLED; the reservation's own day and month rows take the actual count in
-- place of the estimate. Once only: a second settle (or a release that won the race) finds no row
-- to change, because PostgreSQL re-checks the WHERE clause on the row version it waited for. An
-- EXPIRED reservation settles too (the late worker did run); a RELEASED one does not.
CREATE OR REPLACE FUNCTION "ledger_settle_reservation"(p_id TEXT, p_actual INTEGER, p_now TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE sql VOLATILE AS $$
  WITH r AS (
    UPDATE ai_usage_reservations
       SET status = 'SETTLED', actual_tokens = p_actual, finished_at = p_now
     WHERE id = p_id AND status IN ('RESERVED', 'EXPIRED')
    RETURNING user_id, estimated_tokens, day, month
  ), d AS (
    UPDATE ai_daily_usage u SET tokens = u.tokens + (p_actual - r.estimated_tokens)
      FROM r WHERE u.user_id = r.user_id AND u.day = r.day
    RETURNING 1
  ), m AS (
    UPDATE ai_monthly_usage u SET tokens = u.tokens + (p_actual - r.estimated_tokens)
      FROM r WHERE u.user_id = r.user_id AND u.month = r.month
    RETURNING 1
  )
  -- Data-modifying CTEs run to completion whether or not the outer query reads them.
  SELECT EXISTS (SELECT 1 FROM r)
$$;
