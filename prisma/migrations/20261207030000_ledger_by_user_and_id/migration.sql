-- GET /v1/usage pages a user's entries by id (newest first) and totals their day and month. On
-- (user_id, created_at) neither was bounded: the page sorted the user's whole history, or the
-- planner walked the primary key through everyone's entries; the totals read every entry of the
-- user, a year of them for the month. Ledger ids are time-sortable, so (user_id, id) serves both
-- (services/api-service/src/repositories/usage.repository.ts) and replaces the index it leaves
-- unused: one index per entry, as before.
DROP INDEX IF EXISTS "ai_usage_ledger_user_id_created_at_idx";
CREATE INDEX IF NOT EXISTS "ai_usage_ledger_user_id_id_idx" ON "ai_usage_ledger" ("user_id", "id");
