import type { Pool } from 'pg';
import { DEFAULT_PLANS, newId } from '@qv/contracts';
import { apiKeyPrefix, hashApiKey } from './api-keys';
import { inSqlTransaction, type SqlPort } from './sql-port';

/** Inserts the five plans; existing rows are left alone so admin edits survive a re-seed. */
export async function seedPlans(db: SqlPort): Promise<void> {
  await db.query(
    `INSERT INTO plans (id, name, enrichments_per_day, concurrent_jobs, calls_per_hour, tokens_per_day, tokens_per_month, session_ttl_seconds, content_ttl_seconds)
     SELECT id, name, enrichments_per_day, concurrent_jobs, calls_per_hour, tokens_per_day, tokens_per_month, session_ttl_seconds, content_ttl_seconds
       FROM jsonb_to_recordset($1::jsonb) AS p(id text, name text, enrichments_per_day int, concurrent_jobs int, calls_per_hour int,
            tokens_per_day bigint, tokens_per_month bigint, session_ttl_seconds int, content_ttl_seconds int)
     ON CONFLICT (id) DO NOTHING`,
    [
      JSON.stringify(
        DEFAULT_PLANS.map((p) => ({
          id: p.id,
          name: p.name,
          enrichments_per_day: p.enrichmentsPerDay,
          concurrent_jobs: p.concurrentJobs,
          calls_per_hour: p.callsPerHour,
          tokens_per_day: p.tokensPerDay,
          tokens_per_month: p.tokensPerMonth,
          session_ttl_seconds: p.sessionTtlSeconds,
          content_ttl_seconds: p.contentTtlSeconds,
        })),
      ),
    ],
  );
}

/**
 * Makes sure a user with this exact API key exists (the admin key from ADMIN_API_KEY, the demo
 * user's key). Idempotent: the key's hash identifies the user.
 */
export async function ensureUserWithKey(pool: Pool, input: { id: string; email: string; planId: string; role: 'user' | 'admin'; apiKey: string }): Promise<void> {
  const keyHash = hashApiKey(input.apiKey);
  await inSqlTransaction(pool, async (tx) => {
    await tx.query(`INSERT INTO users (id, email, plan_id, role) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role`, [input.id, input.email, input.planId, input.role]);
    await tx.query(`INSERT INTO api_keys (id, user_id, key_hash, prefix) VALUES ($1, $2, $3, $4) ON CONFLICT (key_hash) DO NOTHING`, [newId('key'), input.id, keyHash, apiKeyPrefix(input.apiKey)]);
  });
}
