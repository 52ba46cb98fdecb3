-- Calls per user and UTC minute, RELEASED reservations excluded: the rolling hour reads 60 of these
-- rows and the edge minute's reservations instead of every reservation of the hour, so a charge costs
-- the same for a user with 300,000 calls an hour as for one with 3 (prisma/functions/030_quota_usage.sql).
-- Kept by the trigger of prisma/functions/080_quota_track_hourly_calls.sql; rows older than two hours
-- are pruned by the sweeper.
CREATE TABLE "ai_hourly_calls" (
    "user_id" TEXT NOT NULL,
    "minute" TIMESTAMPTZ(3) NOT NULL,
    "calls" INTEGER NOT NULL,
    CONSTRAINT "ai_hourly_calls_pkey" PRIMARY KEY ("user_id", "minute")
);

-- The minutes the last two hours already hold (the trigger counts from here on).
INSERT INTO "ai_hourly_calls" ("user_id", "minute", "calls")
SELECT "user_id", date_trunc('minute', "created_at", 'UTC'), count(*)::INTEGER
  FROM "ai_usage_reservations"
 WHERE "status" <> 'RELEASED' AND "created_at" > now() - INTERVAL '2 hours'
 GROUP BY 1, 2;
