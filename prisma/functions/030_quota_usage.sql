-- What a user has used at the instant p_now (DESIGN.md §3), read in one snapshot (STABLE: every
-- statement inside sees the snapshot of the statement that called it). quota_charge calls it with
-- the user's row and the day and month rows locked, so the figures cannot move before its writes.
--
-- The rolling hour counts the reservations created after p_now - 1 hour that were not RELEASED.
-- Its cost does not grow with the user's volume: whole 10-second slots are read from ai_call_slots
-- (one row per user and slot, at most 361, kept by the trigger in 080_quota_track_call_slots.sql),
-- and only the slot the window starts in is counted row by row, on the smaller side of the hour's
-- start (at most 5 seconds of the user's calls). With p_exact_hour = FALSE (the
-- hourly limit is unlimited, nothing depends on the count) that edge slot is read from its row as
-- well: the figure then counts the whole first slot, an upper bound by at most 10 s of calls.
-- The start of the 10-second slot holding `p_at` (slots are aligned on the epoch, in UTC).
CREATE OR REPLACE FUNCTION "quota_call_slot"(p_at TIMESTAMPTZ) RETURNS TIMESTAMPTZ
LANGUAGE sql IMMUTABLE AS $$
  SELECT date_bin(INTERVAL '10 seconds', p_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')
$$;

CREATE OR REPLACE FUNCTION "quota_usage"(p_user_id TEXT, p_now TIMESTAMPTZ, p_exact_hour BOOLEAN DEFAULT TRUE)
RETURNS TABLE (
  in_flight INTEGER,
  earliest_expiry TIMESTAMPTZ,
  calls_in_hour INTEGER,
  oldest_call_at TIMESTAMPTZ,
  enrichments_today INTEGER,
  tokens_today BIGINT,
  tokens_this_month BIGINT
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_hour_start TIMESTAMPTZ := p_now - INTERVAL '1 hour';
  v_edge TIMESTAMPTZ := quota_call_slot(p_now - INTERVAL '1 hour');
  v_edge_calls INTEGER;
  v_edge_oldest TIMESTAMPTZ;
  v_first_slot TIMESTAMPTZ;
BEGIN
  SELECT count(*)::INTEGER, min(r.expires_at) INTO in_flight, earliest_expiry
    FROM ai_usage_reservations r
   WHERE r.user_id = p_user_id AND r.status = 'RESERVED';

  -- Whole slots after the edge slot (a slot stamped ahead of p_now by another replica's clock
  -- counts too, which can only refuse).
  SELECT coalesce(sum(b.calls), 0)::INTEGER, min(b.slot_start) FILTER (WHERE b.calls > 0) INTO calls_in_hour, v_first_slot
    FROM ai_call_slots b
   WHERE b.user_id = p_user_id AND b.slot_start > v_edge;
  IF p_exact_hour AND v_hour_start - v_edge < INTERVAL '5 seconds' THEN
    -- The hour starts in the first half of its slot: the slot's calls from its start to the hour's
    -- are fewer to count, and the rest is the slot's total less those (the trigger keeps the total
    -- equal to its reservations); the oldest counted call is the first after the hour's start.
    SELECT coalesce(sum(b.calls), 0)::INTEGER INTO v_edge_calls
      FROM ai_call_slots b
     WHERE b.user_id = p_user_id AND b.slot_start = v_edge;
    SELECT v_edge_calls - count(*)::INTEGER INTO v_edge_calls
      FROM ai_usage_reservations r
     WHERE r.user_id = p_user_id AND r.created_at >= v_edge AND r.created_at <= v_hour_start
       AND r.status <> 'RELEASED';
    SELECT min(r.created_at) INTO v_edge_oldest
      FROM ai_usage_reservations r
     WHERE r.user_id = p_user_id AND r.created_at > v_hour_start AND r.created_at < v_edge + INTERVAL '10 seconds'
       AND r.status <> 'RELEASED';
  ELSIF p_exact_hour THEN
    SELECT count(*)::INTEGER, min(r.created_at) INTO v_edge_calls, v_edge_oldest
      FROM ai_usage_reservations r
     WHERE r.user_id = p_user_id AND r.created_at > v_hour_start AND r.created_at < v_edge + INTERVAL '10 seconds'
       AND r.status <> 'RELEASED';
  ELSE
    SELECT coalesce(sum(b.calls), 0)::INTEGER, min(b.slot_start) FILTER (WHERE b.calls > 0) INTO v_edge_calls, v_edge_oldest
      FROM ai_call_slots b
     WHERE b.user_id = p_user_id AND b.slot_start = v_edge;
  END IF;
  calls_in_hour := calls_in_hour + v_edge_calls;
  oldest_call_at := v_edge_oldest;
  IF oldest_call_at IS NULL AND v_first_slot IS NOT NULL THEN
    IF p_exact_hour THEN
      SELECT min(r.created_at) INTO oldest_call_at
        FROM ai_usage_reservations r
       WHERE r.user_id = p_user_id AND r.created_at >= v_first_slot AND r.created_at < v_first_slot + INTERVAL '10 seconds'
         AND r.status <> 'RELEASED';
    ELSE
      oldest_call_at := v_first_slot;
    END IF;
  END IF;

  SELECT d.enrichments, d.tokens INTO enrichments_today, tokens_today
    FROM ai_daily_usage d WHERE d.user_id = p_user_id AND d.day = (p_now AT TIME ZONE 'UTC')::DATE;
  SELECT m.tokens INTO tokens_this_month
    FROM ai_monthly_usage m WHERE m.user_id = p_user_id AND m.month = date_trunc('month', p_now AT TIME ZONE 'UTC')::DATE;
  enrichments_today := coalesce(enrichments_today, 0);
  tokens_today := coalesce(tokens_today, 0);
  tokens_this_month := coalesce(tokens_this_month, 0);
  RETURN NEXT;
END
$$;

-- The created_at of the p_rank-th oldest call counted in the rolling hour at p_now (1 = the oldest):
-- an hourly refusal is lifted when that call leaves the hour. NULL when there are fewer calls.
-- Only refusals ask, and it reads at most the edge slot's rows and one other slot's.
CREATE OR REPLACE FUNCTION "quota_counted_call_at"(p_user_id TEXT, p_now TIMESTAMPTZ, p_rank INTEGER)
RETURNS TIMESTAMPTZ
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_hour_start TIMESTAMPTZ := p_now - INTERVAL '1 hour';
  v_edge TIMESTAMPTZ := quota_call_slot(p_now - INTERVAL '1 hour');
  v_left INTEGER := p_rank;
  v_edge_calls INTEGER;
  v_bucket RECORD;
  v_at TIMESTAMPTZ;
BEGIN
  IF p_rank IS NULL OR p_rank < 1 THEN
    RETURN NULL;
  END IF;
  SELECT count(*)::INTEGER INTO v_edge_calls
    FROM ai_usage_reservations r
   WHERE r.user_id = p_user_id AND r.created_at > v_hour_start AND r.created_at < v_edge + INTERVAL '10 seconds'
     AND r.status <> 'RELEASED';
  IF v_left <= v_edge_calls THEN
    SELECT r.created_at INTO v_at
      FROM ai_usage_reservations r
     WHERE r.user_id = p_user_id AND r.created_at > v_hour_start AND r.created_at < v_edge + INTERVAL '10 seconds'
       AND r.status <> 'RELEASED'
     ORDER BY r.created_at OFFSET v_left - 1 LIMIT 1;
    RETURN v_at;
  END IF;
  v_left := v_left - v_edge_calls;
  FOR v_bucket IN
    SELECT b.slot_start, b.calls FROM ai_call_slots b
     WHERE b.user_id = p_user_id AND b.slot_start > v_edge AND b.calls > 0
     ORDER BY b.slot_start
  LOOP
    IF v_left <= v_bucket.calls THEN
      SELECT r.created_at INTO v_at
        FROM ai_usage_reservations r
       WHERE r.user_id = p_user_id AND r.created_at >= v_bucket.slot_start AND r.created_at < v_bucket.slot_start + INTERVAL '10 seconds'
         AND r.status <> 'RELEASED'
       ORDER BY r.created_at OFFSET v_left - 1 LIMIT 1;
      RETURN v_at;
    END IF;
    v_left := v_left - v_bucket.calls;
  END LOOP;
  RETURN NULL;
END
$$;
