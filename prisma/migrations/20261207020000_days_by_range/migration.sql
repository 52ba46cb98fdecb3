-- Reconciliation (every minute, over today and yesterday) and the usage report select by `day`
-- across all users. Without an index on it each run read the whole reservation, ledger and daily
-- counter tables: a year of them to check two days (libs/ledger/src/reconciliation-reads.int.test.ts).
-- Reservations and ledger entries are written in about the order of their day, so a BRIN index
-- (a few pages, one summary per 128 table pages) finds the last days' pages for almost nothing per
-- write; `autosummarize` has autovacuum summarize each page range as it fills. A daily counter row
-- is inserted once per user and day and then only updated (HOT: `day` never changes), so a B-tree
-- costs one entry per user and day.
CREATE INDEX IF NOT EXISTS "ai_usage_reservations_day_brin" ON "ai_usage_reservations" USING brin ("day") WITH (autosummarize = on);
CREATE INDEX IF NOT EXISTS "ai_usage_ledger_day_brin" ON "ai_usage_ledger" USING brin ("day") WITH (autosummarize = on);
CREATE INDEX IF NOT EXISTS "ai_daily_usage_day_idx" ON "ai_daily_usage" ("day");
