-- Keeps ai_call_slots (calls per user and 10-second slot, RELEASED ones excluded) equal to what
-- ai_usage_reservations says, whoever writes the reservations: the charge, a release, the sweeper,
-- a test fixture or an operator's UPDATE at 3 a.m. quota_usage reads whole slots from it.
-- Decrements update an existing slot only: a slot already pruned (older than the hour needs)
-- has nobody left to read it. AFTER ROW triggers of a statement fire at its end, after the day and
-- month counters of the same statement, so the lock order stays user → day → month → slot.
CREATE OR REPLACE FUNCTION "quota_track_call_slots"() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'RELEASED' THEN
    UPDATE ai_call_slots b SET calls = b.calls - 1
     WHERE b.user_id = OLD.user_id AND b.slot_start = quota_call_slot(OLD.created_at);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'RELEASED' THEN
    INSERT INTO ai_call_slots AS b (user_id, slot_start, calls)
    VALUES (NEW.user_id, quota_call_slot(NEW.created_at), 1)
    ON CONFLICT (user_id, slot_start) DO UPDATE SET calls = b.calls + 1;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER "ai_usage_reservations_count_insert" AFTER INSERT ON ai_usage_reservations
  FOR EACH ROW EXECUTE FUNCTION quota_track_call_slots();
CREATE OR REPLACE TRIGGER "ai_usage_reservations_count_delete" AFTER DELETE ON ai_usage_reservations
  FOR EACH ROW EXECUTE FUNCTION quota_track_call_slots();
-- Settle and expire (RESERVED → SETTLED / EXPIRED) leave the count alone and skip the trigger.
CREATE OR REPLACE TRIGGER "ai_usage_reservations_count_update" AFTER UPDATE OF status, created_at, user_id ON ai_usage_reservations
  FOR EACH ROW
  WHEN ((OLD.status = 'RELEASED') IS DISTINCT FROM (NEW.status = 'RELEASED')
        OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION quota_track_call_slots();
