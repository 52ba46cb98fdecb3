-- The outbox relay's re-drive (every OUTBOX_RELAY_INTERVAL_MS, on every api-service replica) walks
-- the items in flight in id order. The partial index of in-flight items was on user_id, which no
-- query reads by: with statistics taken while most items were in flight, the planner walked the
-- primary key through every finished item instead, each second (100,005 entries in
-- services/api-service/src/repositories/relay-reads.int.test.ts). On id, the partial index hands
-- the walk its next in-flight items in order, and nothing else.
DROP INDEX IF EXISTS "items_in_flight_idx";
CREATE INDEX IF NOT EXISTS "items_in_flight_by_id_idx" ON "items" ("id") WHERE "status" IN ('PENDING', 'ENRICHING');
