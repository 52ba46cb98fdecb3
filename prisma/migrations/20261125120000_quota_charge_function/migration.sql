-- The charge of DESIGN.md §3 as one function call, so a charge costs one round trip to PostgreSQL
-- instead of five (BEGIN, lock, read, write, COMMIT). Called as a single statement, it runs in the
-- caller's transaction: the implicit one of that statement, or an explicit one the caller owns.
-- libs/quota/src/use-cases/charge.ts calls it; libs/quota/README.md says why it is exact.

-- One limit of a user: the override when the overrides object has the key (JSON null = unlimited),
-- the plan's value otherwise. A value that is not a safe non-negative integer raises instead of
-- lifting the limit (fail closed), exactly where libs/quota's resolveLimits (zod) refuses it.
CREATE FUNCTION "quota_effective_limit"(p_overrides JSONB, p_name TEXT, p_plan BIGINT) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v JSONB;
  n NUMERIC;
BEGIN
  IF p_overrides IS NULL OR jsonb_typeof(p_overrides) = 'null' THEN
    RETURN p_plan;
  END IF;
  IF jsonb_typeof(p_overrides) <> 'object' THEN
    RAISE EXCEPTION 'user_quota_overrides.limits is malformed: not an object' USING ERRCODE = 'data_exception';
  END IF;
  IF NOT (p_overrides ? p_name) THEN
    RETURN p_plan;
  END IF;
  v := p_overrides -> p_name;
  IF jsonb_typeof(v) = 'null' THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' THEN
    RAISE EXCEPTION 'user_quota_overrides.limits is malformed: % is not a number', p_name USING ERRCODE = 'data_exception';
  END IF;
  n := v::NUMERIC;
  IF n <> trunc(n) OR n < 0 OR n > 9007199254740991 THEN
    RAISE EXCEPTION 'user_quota_overrides.limits is malformed: % is not a non-negative safe integer', p_name USING ERRCODE = 'data_exception';
  END IF;
  RETURN n::BIGINT;
END
$$;

-- One charge, atomically (DESIGN.md §3). Returns one row:
--   outcome  'accepted' | 'replayed' | 'refused' | 'unknown_user' | 'key_reused'
--   code     the first failing check when refused, else NULL
--   the plan id and the five effective limits (NULL = unlimited), the usage the checks read
--   (BEFORE this charge), freeing_call_at (hourly refusals: created_at of the call that must leave
--   the rolling hour first) and the reservation (accepted: the new one; replayed: the first one).
-- The usage is returned as read, not as written, so the caller can run the same checks in
-- TypeScript (decideCharge) and prove the two agree.
CREATE FUNCTION "quota_charge"(
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
  v_overrides JSONB;
  v_day DATE := (p_now AT TIME ZONE 'UTC')::DATE;
  v_month DATE := date_trunc('month', p_now AT TIME ZONE 'UTC')::DATE;
  -- A call counts in the rolling hour when created strictly after this (no upper bound: a call
  -- stamped a few ms later by another replica's clock counts too, which can only refuse).
  v_hour_start TIMESTAMPTZ := p_now - INTERVAL '1 hour';
  v_existing RECORD;
  v_replay BOOLEAN;
BEGIN
  -- 1. The user's lock: every charge of this user, in any process, waits here for the previous
  --    one to commit. NO KEY so inserts referencing the user (api keys, overrides) do not queue.
  SELECT u.plan_id, p.concurrent_jobs, p.calls_per_hour, p.enrichments_per_day, p.tokens_per_day, p.tokens_per_month, o.limits
    INTO plan_id, concurrent_jobs, calls_per_hour, enrichments_per_day, tokens_per_day, tokens_per_month, v_overrides
    FROM users u
    JOIN plans p ON p.id = u.plan_id
    LEFT JOIN user_quota_overrides o ON o.user_id = u.id
   WHERE u.id = p_user_id
     FOR NO KEY UPDATE OF u;
  IF NOT FOUND THEN
    outcome := 'unknown_user';
    RETURN NEXT;
    RETURN;
  END IF;
  concurrent_jobs := quota_effective_limit(v_overrides, 'concurrentJobs', concurrent_jobs);
  calls_per_hour := quota_effective_limit(v_overrides, 'callsPerHour', calls_per_hour);
  enrichments_per_day := quota_effective_limit(v_overrides, 'enrichmentsPerDay', enrichments_per_day);
  tokens_per_day := quota_effective_limit(v_overrides, 'tokensPerDay', tokens_per_day);
  tokens_per_month := quota_effective_limit(v_overrides, 'tokensPerMonth', tokens_per_month);
  -- Not charged, but validated like the TypeScript side does: a malformed override is refused.
  PERFORM quota_effective_limit(v_overrides, 'sessionTtlSeconds', NULL), quota_effective_limit(v_overrides, 'contentTtlSeconds', NULL);

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

  -- 3. The usage the checks need.
  SELECT count(*)::INTEGER, min(r.expires_at) INTO in_flight, earliest_expiry
    FROM ai_usage_reservations r
   WHERE r.user_id = p_user_id AND r.status = 'RESERVED';
  SELECT count(*)::INTEGER, min(r.created_at) INTO calls_in_hour, oldest_call_at
    FROM ai_usage_reservations r
   WHERE r.user_id = p_user_id AND r.created_at > v_hour_start AND r.status <> 'RELEASED';

  IF v_replay THEN
    -- A replay changes nothing; it reports the quotas as they are now.
    SELECT d.enrichments, d.tokens INTO enrichments_today, tokens_today FROM ai_daily_usage d WHERE d.user_id = p_user_id AND d.day = v_day;
    SELECT m.tokens INTO tokens_this_month FROM ai_monthly_usage m WHERE m.user_id = p_user_id AND m.month = v_month;
    enrichments_today := coalesce(enrichments_today, 0);
    tokens_today := coalesce(tokens_today, 0);
    tokens_this_month := coalesce(tokens_this_month, 0);
    outcome := 'replayed';
    r_id := v_existing.id; r_user_id := v_existing.user_id; r_item_id := v_existing.item_id; r_status := v_existing.status;
    r_estimated_tokens := v_existing.estimated_tokens; r_actual_tokens := v_existing.actual_tokens;
    r_created_at := v_existing.created_at; r_expires_at := v_existing.expires_at;
    RETURN NEXT;
    RETURN;
  END IF;

  -- The day and month rows are locked as they are read: settle and release do not take the user's
  -- lock, and a settle whose actual count exceeds its estimate raises `tokens`, so without this
  -- lock the counters could move between this read and the write below. Lock order user → day →
  -- month here, reservation → day → month in settle/release: no cycle. A row that does not exist
  -- yet has no reservation to settle against it, so nothing but this user's next charge (which
  -- waits for our user lock) can create it.
  SELECT d.enrichments, d.tokens INTO enrichments_today, tokens_today
    FROM ai_daily_usage d WHERE d.user_id = p_user_id AND d.day = v_day
     FOR NO KEY UPDATE;
  SELECT m.tokens INTO tokens_this_month
    FROM ai_monthly_usage m WHERE m.user_id = p_user_id AND m.month = v_month
     FOR NO KEY UPDATE;
  enrichments_today := coalesce(enrichments_today, 0);
  tokens_today := coalesce(tokens_today, 0);
  tokens_this_month := coalesce(tokens_this_month, 0);

  -- 4. The five checks, in the design's order; the first that fails names the refusal.
  --    libs/quota/src/domain/usage.ts decideCharge is the same rule; charge() asserts they agree.
  IF concurrent_jobs IS NOT NULL AND in_flight >= concurrent_jobs THEN
    code := 'CONCURRENCY_LIMIT_EXCEEDED';
  ELSIF calls_per_hour IS NOT NULL AND calls_in_hour >= calls_per_hour THEN
    code := 'HOURLY_RATE_LIMIT_EXCEEDED';
    -- The limit frees when the (used − limit + 1)-th oldest counted call leaves the hour; with a
    -- limit of 0 no call can free it (NULL).
    IF calls_per_hour > 0 THEN
      SELECT r.created_at INTO freeing_call_at
        FROM ai_usage_reservations r
       WHERE r.user_id = p_user_id AND r.created_at > v_hour_start AND r.status <> 'RELEASED'
       ORDER BY r.created_at
      OFFSET calls_in_hour - calls_per_hour LIMIT 1;
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

  outcome := 'accepted';
  RETURN NEXT;
END
$$;
