-- One usage event, exactly once. Returns
--   'applied'      the entry was written (and, when `charged` on it, the reservation settled, or
--                  released keeping the tokens a failure still cost)
--   'duplicate'    the event id (or the user's idempotency key) is already in the ledger; nothing changed
--   'not_visible'  a charged event whose reservation this statement cannot see (its charge has not
--                  committed yet): nothing written, the caller retries later
--   'invalid'      the reservation is another user's: nothing written
-- In order:
-- 1. A charged event locks its reservation (FOR NO KEY UPDATE: the lock the settle's UPDATE takes
--    anyway, taken first). Two deliveries of one event, or a completion and a failure of one
--    reservation, queue here; READ COMMITTED hands the waiter the row as the holder committed it.
-- 2. Under that lock the status decides `charged` (RESERVED or EXPIRED: this event finishes it) —
--    nothing else can move it while we hold the lock.
-- 3. The entry, ON CONFLICT DO NOTHING, BEFORE any counter moves: if it conflicts (the event is
--    already recorded, or a concurrent delivery of an uncharged event won the unique index) the
--    function returns 'duplicate' having written nothing. The ledger refuses UPDATE, so `charged`
--    has to be known before the insert — hence step 2.
-- 4. Only then the settle or release, which cannot miss: the lock from step 1 is still held.
-- Lock order reservation → ledger index entry → daily row → monthly row; a charge takes
-- user → daily → monthly and never waits on a reservation or the ledger, so no cycle.
CREATE OR REPLACE FUNCTION "ledger_apply_usage_event"(
  p_entry_id TEXT,
  p_event_id TEXT,
  p_user_id TEXT,
  p_item_id TEXT,
  p_reservation_id TEXT,
  p_charged BOOLEAN,
  p_kind TEXT,
  p_model TEXT,
  p_prompt_tokens INTEGER,
  p_completion_tokens INTEGER,
  p_cost_usd NUMERIC,
  p_cache_tier TEXT,
  p_cache_hit BOOLEAN,
  p_tokens_saved INTEGER,
  p_cost_saved_usd NUMERIC,
  p_idempotency_key TEXT,
  p_now TIMESTAMPTZ
) RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_res RECORD;
  v_changes BOOLEAN := FALSE;
  v_day DATE := (p_now AT TIME ZONE 'UTC')::DATE;
  -- A failure's tokens are what its work still cost (0 for most): released, they stay counted.
  v_total INTEGER := p_prompt_tokens + p_completion_tokens;
BEGIN
  IF p_kind NOT IN ('completed', 'failed') THEN
    RAISE EXCEPTION 'ledger_apply_usage_event: unknown kind %', p_kind USING ERRCODE = 'data_exception';
  END IF;

  IF p_charged AND p_reservation_id IS NOT NULL AND p_reservation_id <> '' THEN
    SELECT r.user_id, r.status, r.day INTO v_res
      FROM ai_usage_reservations r WHERE r.id = p_reservation_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RETURN 'not_visible';
    END IF;
    IF v_res.user_id <> p_user_id THEN
      RETURN 'invalid';
    END IF;
    v_changes := v_res.status IN ('RESERVED', 'EXPIRED');
    -- The window its tokens count against.
    v_day := v_res.day;
  END IF;

  INSERT INTO ai_usage_ledger (id, event_id, user_id, item_id, reservation_id, kind, model, prompt_tokens, completion_tokens,
                               total_tokens, cost_usd, cache_tier, cache_hit, tokens_saved, cost_saved_usd, charged,
                               idempotency_key, day, created_at)
  VALUES (p_entry_id, p_event_id, p_user_id, p_item_id, p_reservation_id, p_kind, p_model, p_prompt_tokens, p_completion_tokens,
          v_total, p_cost_usd, p_cache_tier, p_cache_hit, p_tokens_saved, p_cost_saved_usd, v_changes,
          p_idempotency_key, v_day, p_now)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN 'duplicate';
  END IF;

  IF v_changes THEN
    IF p_kind = 'completed' THEN
      v_changes := ledger_settle_reservation(p_reservation_id, v_total, p_now);
    ELSE
      v_changes := ledger_release_reservation(p_reservation_id, p_now, v_total);
    END IF;
    IF NOT v_changes THEN
      -- Cannot happen under the lock of step 1; if it ever did, the entry would claim a charge that
      -- did not happen: roll the whole event back rather than record it.
      RAISE EXCEPTION 'ledger_apply_usage_event: reservation % changed under its lock', p_reservation_id;
    END IF;
  END IF;
  RETURN 'applied';
END
$$;
