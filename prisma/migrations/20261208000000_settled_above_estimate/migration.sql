-- The reservations settled above their estimate, by day: normally none, so an index that holds
-- only them is empty and costs a settlement nothing (status is already in another index's
-- predicate, so these updates were never HOT). GET /admin/overview reads today's on every poll of
-- the console and ledger-consumer two days' every minute (libs/ledger estimateOverruns): without it
-- each read would scan the day's reservations, millions on a busy day.
CREATE INDEX "ai_usage_reservations_above_estimate_idx" ON "ai_usage_reservations" ("day") WHERE "status" = 'SETTLED' AND "actual_tokens" > "estimated_tokens";
