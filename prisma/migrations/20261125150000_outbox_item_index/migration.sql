-- The outbox relay looks up the latest outbox row of each unfinished item, to re-send a job that
-- Redis lost (services/api-service/src/repositories/outbox.publisher.ts, redriveOnce).
CREATE INDEX "outbox_item_id_created_at_idx" ON "outbox"("item_id", "created_at");
