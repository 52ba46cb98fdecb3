-- RESERVED or EXPIRED → SETTLED; the reservation's own day and month rows take the actual count in
-- place of the estimate. Once only: the reservation is locked first, and a second settle (or a
-- release that won the race) finds it no longer RESERVED or EXPIRED, because PostgreSQL re-checks
-- the WHERE clause on the row version it waited for. An EXPIRED reservation settles too (the late
-- worker did run); a RELEASED one does not.
-- One statement after another, not sibling CTEs (whose order PostgreSQL does not promise): the
-- counters are locked day, then month, the order quota_charge takes them in, so the two never
-- deadlock (seen with 200 concurrent chat calls and their settlements).
CREATE OR REPLACE FUNCTION "ledger_settle_reservation"(p_id TEXT, p_actual INTEGER, p_now TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r RECORD;
BEGIN
  SELECT x.user_id, x.estimated_tokens, x.day, x.month INTO r
    FROM ai_usage_reservations x
   WHERE x.id = p_id AND x.status IN ('RESERVED', 'EXPIRED')
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN FALSE;
  END IF;
  UPDATE ai_daily_usage u SET tokens = u.tokens + (p_actual - r.estimated_tokens) WHERE u.user_id = r.user_id AND u.day = r.day;
  UPDATE ai_monthly_usage u SET tokens = u.tokens + (p_actual - r.estimated_tokens) WHERE u.user_id = r.user_id AND u.month = r.month;
  UPDATE ai_usage_reservations x SET status = 'SETTLED', actual_tokens = p_actual, finished_at = p_now WHERE x.id = p_id;
  RETURN TRUE;
END
$$;
