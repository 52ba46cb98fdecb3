-- One index for the reservations in flight, led by the user: a charge's in-flight count (quota_usage)
-- then has no index to choose but its own user's entries. With a second partial index over every
-- user's in-flight reservations (on expires_at, for the sweeper), statistics taken while little
-- was in flight made both look equally cheap, and a charge could scan every tenant's in-flight rows
-- (libs/quota/src/bounded-reads.int.test.ts). The sweeper reads this one whole, filtered on
-- expires_at: it holds only what is in flight. One index fewer written per charge, too.
CREATE INDEX "ai_usage_reservations_in_flight_expiry_idx" ON "ai_usage_reservations" ("user_id", "expires_at") WHERE "status" = 'RESERVED';
DROP INDEX "ai_usage_reservations_in_flight_idx";
DROP INDEX "ai_usage_reservations_expiry_idx";
