-- One charge, atomically (DESIGN.md §3): the only place the five checks and their order are
-- written. Called as a single statement it runs in the caller's transaction: the implicit one of
-- that statement, or an explicit one the caller owns. One round trip. Returns one row:
--   outcome  'accepted' | 'replayed' | 'refused' | 'unknown_user' | 'key_reused'
--   code     the first failing check when refused, else NULL
--   the plan id and the five effective limits (NULL = unlimited), the usage as it stands after this
--   call (refused and replayed: unchanged; accepted: with this charge), freeing_call_at (hourly
--   refusals: created_at of the counted call that must leave the rolling hour first) and the
--   reservation (accepted: the new one; replayed: the first one).
-- The caller only words the answer (message, Retry-After, levels); it never decides again.
CREATE OR REPLACE FUNCTION "quota_charge"(
  p_user_id TEXT,
  p_item_id TEXT,
  p_idempotency_key TEXT,
  p_estimated INTEGER,
  p_reservation_id TEXT,
  p_now TIMESTAMPTZ,
  p_ttl_seconds INTEGER
) RETURNS TABLE (
  outcome TEXT,
  code TEXT,
  plan_id TEXT,
  concurrent_jobs BIGINT,
  calls_per_hour BIGINT,
  enrichments_per_day BIGINT,
  tokens_per_day BIGINT,
  tokens_per_month BIGINT,
  in_flight INTEGER,
  earliest_expiry TIMESTAMPTZ,
  calls_in_hour INTEGER,
  oldest_call_at TIMESTAMPTZ,
  enrichments_today INTEGER,
  tokens_today BIGINT,
  tokens_this_month BIGINT,
  freeing_call_at TIMESTAMPTZ,
  r_id TEXT,
  r_user_id TEXT,
  r_item_id TEXT,
  r_status TEXT,
  r_estimated_tokens INTEGER,
  r_actual_tokens INTEGER,
  r_created_at TIMESTAMPTZ,
  r_expires_at TIMESTAMPTZ
)
-- VOLATILE (the default, said out loud): in READ COMMITTED each statement below then takes a fresh
-- snapshot, so every read after the user lock sees all that the previous lock holder committed.
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_day DATE := (p_now AT TIME ZONE 'UTC')::DATE;
  v_month DATE := date_trunc('month', p_now AT TIME ZONE 'UTC')::DATE;
  v_existing RECORD;
  v_replay BOOLEAN;
BEGIN
  -- 1. The user's lock: every charge of this user, in any process, waits here for the previous
  --    one to commit. NO KEY so inserts referencing the user (api keys, overrides) do not queue.
  PERFORM 1 FROM users u WHERE u.id = p_user_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    outcome := 'unknown_user';
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT l.plan_id, l.concurrent_jobs, l.calls_per_hour, l.enrichments_per_day, l.tokens_per_day, l.tokens_per_month
    INTO plan_id, concurrent_jobs, calls_per_hour, enrichments_per_day, tokens_per_day, tokens_per_month
    FROM quota_user_limits(p_user_id) l;

  -- 2. A repeat of the idempotency key: under the user's lock, so a first charge of this user with
  --    this key has either committed (found) or not started.
  SELECT r.id, r.user_id, r.item_id, r.status, r.estimated_tokens, r.actual_tokens, r.created_at, r.expires_at
    INTO v_existing
    FROM ai_usage_reservations r
   WHERE r.idempotency_key = p_idempotency_key;
  v_replay := FOUND;
  IF v_replay AND (v_existing.user_id <> p_user_id OR v_existing.item_id <> p_item_id) THEN
    outcome := 'key_reused';
    RETURN NEXT;
    RETURN;
  END IF;

  -- The day and month rows are locked before they are read: settle and release do not take the
  -- user's lock, and a settle whose actual count exceeds its estimate raises `tokens`, so without
  -- this lock the counters could move between the read and the write below. Lock order user → day
  -- → month here, reservation → day → month in settle/release: no cycle. A row that does not exist
  -- yet has no reservation to settle against it, so nothing but this user's next charge (which
  -- waits for our user lock) can create it.
  IF NOT v_replay THEN
    PERFORM 1 FROM ai_daily_usage d WHERE d.user_id = p_user_id AND d.day = v_day FOR NO KEY UPDATE;
    PERFORM 1 FROM ai_monthly_usage m WHERE m.user_id = p_user_id AND m.month = v_month FOR NO KEY UPDATE;
  END IF;

  -- 3. The usage the checks need (no row-by-row count of the hour when it is unlimited).
  SELECT u.in_flight, u.earliest_expiry, u.calls_in_hour, u.oldest_call_at, u.enrichments_today, u.tokens_today, u.tokens_this_month
    INTO in_flight, earliest_expiry, calls_in_hour, oldest_call_at, enrichments_today, tokens_today, tokens_this_month
    FROM quota_usage(p_user_id, p_now, calls_per_hour IS NOT NULL) u;

  IF v_replay THEN
    -- A replay changes nothing; it reports the quotas as they are now.
    outcome := 'replayed';
    r_id := v_existing.id; r_user_id := v_existing.user_id; r_item_id := v_existing.item_id; r_status := v_existing.status;
    r_estimated_tokens := v_existing.estimated_tokens; r_actual_tokens := v_existing.actual_tokens;
    r_created_at := v_existing.created_at; r_expires_at := v_existing.expires_at;
    RETURN NEXT;
    RETURN;
  END IF;

  -- 4. The five checks, in the design's order; the first that fails names the refusal.
  IF concurrent_jobs IS NOT NULL AND in_flight >= concurrent_jobs THEN
    code := 'CONCURRENCY_LIMIT_EXCEEDED';
  ELSIF calls_per_hour IS NOT NULL AND calls_in_hour >= calls_per_hour THEN
    code := 'HOURLY_RATE_LIMIT_EXCEEDED';
    -- The limit frees when the (used − limit + 1)-th oldest counted call leaves the hour; with a
    -- limit of 0 no call can free it (NULL).
    IF calls_per_hour > 0 THEN
      freeing_call_at := quota_counted_call_at(p_user_id, p_now, (calls_in_hour - calls_per_hour + 1)::INTEGER);
    END IF;
  ELSIF enrichments_per_day IS NOT NULL AND enrichments_today >= enrichments_per_day THEN
    code := 'DAILY_QUOTA_EXCEEDED';
  ELSIF tokens_per_day IS NOT NULL AND tokens_today + p_estimated > tokens_per_day THEN
    code := 'DAILY_TOKEN_QUOTA_EXCEEDED';
  ELSIF tokens_per_month IS NOT NULL AND tokens_this_month + p_estimated > tokens_per_month THEN
    code := 'MONTHLY_TOKEN_QUOTA_EXCEEDED';
  END IF;
  IF code IS NOT NULL THEN
    -- A refusal writes nothing, so it does not use its idempotency key up.
    outcome := 'refused';
    RETURN NEXT;
    RETURN;
  END IF;

  -- 5. The writes. The reservation first: if another user's charge took the key since step 2, the
  --    insert does nothing and neither do the counters.
  INSERT INTO ai_usage_reservations AS r (id, user_id, item_id, idempotency_key, status, estimated_tokens, day, month, created_at, expires_at)
  VALUES (p_reservation_id, p_user_id, p_item_id, p_idempotency_key, 'RESERVED', p_estimated, v_day, v_month,
          p_now, p_now + make_interval(secs => p_ttl_seconds))
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING r.id, r.user_id, r.item_id, r.status, r.estimated_tokens, r.actual_tokens, r.created_at, r.expires_at
       INTO r_id, r_user_id, r_item_id, r_status, r_estimated_tokens, r_actual_tokens, r_created_at, r_expires_at;
  IF NOT FOUND THEN
    outcome := 'key_reused';
    RETURN NEXT;
    RETURN;
  END IF;

  -- The counters, each guarded on the whole cost against the row's latest version (STYLE.md). With
  -- the rows locked and checked above the guards cannot refuse; if one ever does, the counters were
  -- changed outside this protocol, and raising rolls the whole charge back rather than over-admit.
  INSERT INTO ai_daily_usage AS u (user_id, day, enrichments, tokens)
  SELECT p_user_id, v_day, 1, p_estimated
   WHERE (enrichments_per_day IS NULL OR 1 <= enrichments_per_day)
     AND (tokens_per_day IS NULL OR p_estimated <= tokens_per_day)
  ON CONFLICT (user_id, day) DO UPDATE
     SET enrichments = u.enrichments + 1, tokens = u.tokens + EXCLUDED.tokens
   WHERE (enrichments_per_day IS NULL OR u.enrichments + 1 <= enrichments_per_day)
     AND (tokens_per_day IS NULL OR u.tokens + EXCLUDED.tokens <= tokens_per_day);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quota_charge: the daily counters of user % moved under its lock', p_user_id;
  END IF;
  INSERT INTO ai_monthly_usage AS u (user_id, month, tokens)
  SELECT p_user_id, v_month, p_estimated
   WHERE (tokens_per_month IS NULL OR p_estimated <= tokens_per_month)
  ON CONFLICT (user_id, month) DO UPDATE
     SET tokens = u.tokens + EXCLUDED.tokens
   WHERE (tokens_per_month IS NULL OR u.tokens + EXCLUDED.tokens <= tokens_per_month);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quota_charge: the monthly counter of user % moved under its lock', p_user_id;
  END IF;

  -- The usage as it now stands, without reading it back.
  in_flight := in_flight + 1;
  earliest_expiry := least(earliest_expiry, r_expires_at);
  calls_in_hour := calls_in_hour + 1;
  oldest_call_at := least(oldest_call_at, p_now);
  enrichments_today := enrichments_today + 1;
  tokens_today := tokens_today + p_estimated;
  tokens_this_month := tokens_this_month + p_estimated;
  outcome := 'accepted';
  RETURN NEXT;
END
$$;
