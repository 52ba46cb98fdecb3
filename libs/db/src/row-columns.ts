/**
 * The columns of each table under the names of its Prisma row type (`ItemRow`, `OutboxRow`, …), for
 * statements on node-postgres that answer rows of those types. Timestamps are timestamptz(3), so a
 * Date read back compares equal to the one written; a bigint that must be a number is cast here.
 */
export const ITEM_COLUMNS = `id, user_id AS "userId", title, url, content, tasks, status, enrichment, error, created_at AS "createdAt", updated_at AS "updatedAt"`;

export const OUTBOX_COLUMNS = `id, item_id AS "itemId", queue, job_name AS "jobName", job_id AS "jobId", payload, created_at AS "createdAt", sent_at AS "sentAt"`;

/** A plan's limits as numbers (every limit is far below 2^53). */
export const PLAN_COLUMNS = `id, name, enrichments_per_day AS "enrichmentsPerDay", concurrent_jobs AS "concurrentJobs", calls_per_hour AS "callsPerHour",
  tokens_per_day::float8 AS "tokensPerDay", tokens_per_month::float8 AS "tokensPerMonth",
  session_ttl_seconds AS "sessionTtlSeconds", content_ttl_seconds AS "contentTtlSeconds", updated_at AS "updatedAt"`;

export const API_KEY_COLUMNS = `id, user_id AS "userId", key_hash AS "keyHash", prefix, created_at AS "createdAt", revoked_at AS "revokedAt"`;
