-- Calls per user and 10-second slot, RELEASED reservations excluded: the rolling hour reads at most
-- 361 of these rows and the edge slot's reservations instead of every reservation of the hour, so a
-- charge costs the same for a user with 1,000,000 calls an hour as for one with 3
-- (prisma/functions/030_quota_usage.sql). Kept by the trigger of
-- prisma/functions/080_quota_track_call_slots.sql; rows older than two hours are pruned by the sweeper.
CREATE TABLE "ai_call_slots" (
    "user_id" TEXT NOT NULL,
    "slot_start" TIMESTAMPTZ(3) NOT NULL,
    "calls" INTEGER NOT NULL,
    CONSTRAINT "ai_call_slots_pkey" PRIMARY KEY ("user_id", "slot_start")
);

-- The slots the last two hours already hold (the trigger counts from here on).
INSERT INTO "ai_call_slots" ("user_id", "slot_start", "calls")
SELECT "user_id", date_bin(INTERVAL '10 seconds', "created_at", TIMESTAMPTZ '1970-01-01 00:00:00+00'), count(*)::INTEGER
  FROM "ai_usage_reservations"
 WHERE "status" <> 'RELEASED' AND "created_at" > now() - INTERVAL '2 hours'
 GROUP BY 1, 2;
