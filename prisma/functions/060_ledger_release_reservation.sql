-- RESERVED or EXPIRED → RELEASED, refunding the enrichment and the estimated tokens of the
-- reservation's own day and month, less `p_spent`: the tokens the failed work still cost the
-- provider (answers received before the call that failed), which stay counted and are kept as the
-- reservation's actual tokens. The call is refunded by the status (RELEASED is not counted in the
-- rolling hour, and 080_quota_track_call_slots takes it out of its slot). Once only, as settle.
-- Locks in quota_charge's order: the reservation (which no charge locks), day, month, and the call
-- slot last (the trigger of the final UPDATE), as a charge takes day, month, then its slot.
DROP FUNCTION IF EXISTS "ledger_release_reservation"(TEXT, TIMESTAMPTZ);
CREATE OR REPLACE FUNCTION "ledger_release_reservation"(p_id TEXT, p_now TIMESTAMPTZ, p_spent INTEGER DEFAULT 0) RETURNS BOOLEAN
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
  UPDATE ai_daily_usage u SET enrichments = u.enrichments - 1, tokens = u.tokens - r.estimated_tokens + p_spent WHERE u.user_id = r.user_id AND u.day = r.day;
  UPDATE ai_monthly_usage u SET tokens = u.tokens - r.estimated_tokens + p_spent WHERE u.user_id = r.user_id AND u.month = r.month;
  UPDATE ai_usage_reservations x SET status = 'RELEASED', actual_tokens = NULLIF(p_spent, 0), finished_at = p_now WHERE x.id = p_id;
  RETURN TRUE;
END
$$;
