-- CreateTable
CREATE TABLE "plans" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "enrichments_per_day" INTEGER,
    "concurrent_jobs" INTEGER,
    "calls_per_hour" INTEGER,
    "tokens_per_day" BIGINT,
    "tokens_per_month" BIGINT,
    "session_ttl_seconds" INTEGER,
    "content_ttl_seconds" INTEGER,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "email" TEXT,
    "plan_id" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'user',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");
CREATE INDEX "api_keys_user_id_idx" ON "api_keys"("user_id");

CREATE TABLE "user_quota_overrides" (
    "user_id" TEXT NOT NULL,
    "limits" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "user_quota_overrides_pkey" PRIMARY KEY ("user_id")
);

CREATE TABLE "items" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "title" TEXT,
    "url" TEXT,
    "content" TEXT NOT NULL,
    "tasks" TEXT[],
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "enrichment" JSONB,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "items_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "items_user_id_id_idx" ON "items"("user_id", "id");
-- In-flight items per user (DESIGN.md §8); Prisma cannot express partial indexes, so it lives here only.
CREATE INDEX "items_in_flight_idx" ON "items"("user_id") WHERE "status" IN ('PENDING', 'ENRICHING');

CREATE TABLE "outbox" (
    "id" TEXT NOT NULL,
    "item_id" TEXT NOT NULL,
    "queue" TEXT NOT NULL,
    "job_name" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "outbox_created_at_idx" ON "outbox"("created_at");
CREATE INDEX "outbox_unsent_idx" ON "outbox"("created_at") WHERE "sent_at" IS NULL;

CREATE TABLE "idempotency_keys" (
    "user_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "response_status" INTEGER,
    "response_body" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id", "key")
);
CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys"("expires_at");

CREATE TABLE "ai_daily_usage" (
    "user_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "enrichments" INTEGER NOT NULL DEFAULT 0,
    "tokens" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "ai_daily_usage_pkey" PRIMARY KEY ("user_id", "day")
);

CREATE TABLE "ai_monthly_usage" (
    "user_id" TEXT NOT NULL,
    "month" DATE NOT NULL,
    "tokens" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "ai_monthly_usage_pkey" PRIMARY KEY ("user_id", "month")
);

CREATE TABLE "ai_usage_reservations" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "item_id" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "estimated_tokens" INTEGER NOT NULL,
    "actual_tokens" INTEGER,
    "day" DATE NOT NULL,
    "month" DATE NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),
    CONSTRAINT "ai_usage_reservations_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "ai_usage_reservations_idempotency_key_key" ON "ai_usage_reservations"("idempotency_key");
CREATE INDEX "ai_usage_reservations_user_id_created_at_idx" ON "ai_usage_reservations"("user_id", "created_at");
CREATE INDEX "ai_usage_reservations_item_id_idx" ON "ai_usage_reservations"("item_id");
-- The concurrency check counts these; the sweeper scans them by expiry.
CREATE INDEX "ai_usage_reservations_in_flight_idx" ON "ai_usage_reservations"("user_id") WHERE "status" = 'RESERVED';
CREATE INDEX "ai_usage_reservations_expiry_idx" ON "ai_usage_reservations"("expires_at") WHERE "status" = 'RESERVED';

CREATE TABLE "ai_usage_ledger" (
    "id" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "item_id" TEXT NOT NULL,
    "reservation_id" TEXT,
    "kind" TEXT NOT NULL,
    "model" TEXT,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(14,8) NOT NULL DEFAULT 0,
    "cache_tier" TEXT,
    "cache_hit" BOOLEAN NOT NULL DEFAULT false,
    "tokens_saved" INTEGER NOT NULL DEFAULT 0,
    "cost_saved_usd" DECIMAL(14,8) NOT NULL DEFAULT 0,
    "charged" BOOLEAN NOT NULL DEFAULT true,
    "idempotency_key" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ai_usage_ledger_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "ai_usage_ledger_event_id_key" ON "ai_usage_ledger"("event_id");
CREATE UNIQUE INDEX "ai_usage_ledger_user_id_idempotency_key_key" ON "ai_usage_ledger"("user_id", "idempotency_key");
CREATE INDEX "ai_usage_ledger_user_id_created_at_idx" ON "ai_usage_ledger"("user_id", "created_at");

-- The ledger is append-only: refuse UPDATE and DELETE at the database, not only in code.
CREATE FUNCTION "ai_usage_ledger_append_only"() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ai_usage_ledger is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER "ai_usage_ledger_no_update" BEFORE UPDATE OR DELETE ON "ai_usage_ledger"
  FOR EACH ROW EXECUTE FUNCTION "ai_usage_ledger_append_only"();

CREATE TABLE "ai_cache" (
    "id" TEXT NOT NULL,
    "cache_key" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "tokens" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    CONSTRAINT "ai_cache_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "ai_cache_cache_key_type_user_id_key" ON "ai_cache"("cache_key", "type", "user_id");
CREATE INDEX "ai_cache_expires_at_idx" ON "ai_cache"("expires_at");

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "user_quota_overrides" ADD CONSTRAINT "user_quota_overrides_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
