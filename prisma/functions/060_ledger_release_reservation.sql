-- RESERVED or EXPIRED → RELEASED, refunding the enrichment and the estimated tokens of the
-- reservation's own day and month; the call is refunded by the status (RELEASED is not counted in
-- the rolling hour, and 080_quota_track_call_slots takes it out of its slot). Once only, as settle.
CREATE OR REPLACE FUNCTION "ledger_release_reservation"(p_id TEXT, p_now TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE sql VOLATILE AS $$
  WITH r AS (
    UPDATE ai_usage_reservations
       SET status = 'RELEASED', finished_at = p_now
     WHERE id = p_id AND status IN ('RESERVED', 'EXPIRED')
    RETURNING user_id, estimated_tokens, day, month
  ), d AS (
    UPDATE ai_daily_usage u SET enrichments = u.enrichments - 1, tokens = u.tokens - r.estimated_tokens
      FROM r WHERE u.user_id = r.user_id AND u.day = r.day
    RETURNING 1
  ), m AS (
    UPDATE ai_monthly_usage u SET tokens = u.tokens - r.estimated_tokens
      FROM r WHERE u.user_id = r.user_id AND u.month = r.month
    RETURNING 1
  )
  -- Data-modifying CTEs run to completion whether or not the outer query reads them.
  SELECT EXISTS (SELECT 1 FROM r)
$$;
