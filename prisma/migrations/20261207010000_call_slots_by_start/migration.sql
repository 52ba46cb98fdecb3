-- The sweeper deletes call slots older than two hours (pruneCallSlots). Without an index on the
-- slot's start it read the whole table every sweep to find them, a table of every active user's
-- last two hours (libs/quota/src/bounded-reads.int.test.ts). A charge updates its slot's count
-- only, never its start, so those updates stay HOT; the index is written once per new slot.
CREATE INDEX "ai_call_slots_slot_start_idx" ON "ai_call_slots" ("slot_start");
