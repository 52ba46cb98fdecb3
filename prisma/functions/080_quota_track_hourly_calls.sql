-- Keeps ai_hourly_calls (calls per user and UTC minute, RELEASED ones excluded) equal to what
-- ai_usage_reservations says, whoever writes the reservations: the charge, a release, the sweeper,
-- a test fixture or an operator's UPDATE at 3 a.m. quota_usage reads whole minutes from it.
-- Decrements update an existing bucket only: a bucket already pruned (older than the hour needs)
-- has nobody left to read it. AFTER ROW triggers of a statement fire at its end, after the day and
-- month counters of the same statement, so the lock order stays user → day → month → bucket.
CREATE OR REPLACE FUNCTION "quota_track_hourly_calls"() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'RELEASED' THEN
    UPDATE ai_hourly_calls b SET calls = b.calls - 1
     WHERE b.user_id = OLD.user_id AND b.minute = date_trunc('minute', OLD.created_at, 'UTC');
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'RELEASED' THEN
    INSERT INTO ai_hourly_calls AS b (user_id, minute, calls)
    VALUES (NEW.user_id, date_trunc('minute', NEW.created_at, 'UTC'), 1)
    ON CONFLICT (user_id, minute) DO UPDATE SET calls = b.calls + 1;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER "ai_usage_reservations_count_insert" AFTER INSERT ON ai_usage_reservations
  FOR EACH ROW EXECUTE FUNCTION quota_track_hourly_calls();
CREATE OR REPLACE TRIGGER "ai_usage_reservations_count_delete" AFTER DELETE ON ai_usage_reservations
  FOR EACH ROW EXECUTE FUNCTION quota_track_hourly_calls();
-- Settle and expire (RESERVED → SETTLED / EXPIRED) leave the count alone and skip the trigger.
CREATE OR REPLACE TRIGGER "ai_usage_reservations_count_update" AFTER UPDATE OF status, created_at, user_id ON ai_usage_reservations
  FOR EACH ROW
  WHEN ((OLD.status = 'RELEASED') IS DISTINCT FROM (NEW.status = 'RELEASED')
        OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION quota_track_hourly_calls();
