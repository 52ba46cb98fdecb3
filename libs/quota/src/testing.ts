/*
 * Test fixtures shared by the quota lib's and quota-service's integration tests. Not exported from
 * the lib's index: production code has no use for them.
 */
import type { QuotaErrorCode } from '@qv/contracts';
import { newId } from '@qv/contracts';
import { dayWindow, monthWindow } from './domain/windows';

type Query = (sql: string, params?: unknown[]) => Promise<unknown[]>;

const UNLIMITED = { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };

/** Inserts a user on `plan` with optional overrides; returns its id. */
export async function createUser(query: Query, plan = 'free', overrides?: Record<string, number | null>): Promise<string> {
  const id = newId('usr');
  await query(`INSERT INTO users (id, plan_id) VALUES ($1, $2)`, [id, plan]);
  if (overrides) await query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)`, [id, JSON.stringify(overrides)]);
  return id;
}

/** One scenario per limit: a user with exactly `remaining` charges left on that limit only. */
export interface LimitScenario {
  code: QuotaErrorCode;
  estimate: number;
  setUp: (query: Query, now: Date) => Promise<string>;
}

/** Each scenario leaves exactly 20 charges of `estimate` tokens before its limit refuses. */
export const LIMIT_SCENARIOS: LimitScenario[] = [
  {
    code: 'CONCURRENCY_LIMIT_EXCEEDED',
    estimate: 10,
    setUp: (q) => createUser(q, 'free', { ...UNLIMITED, concurrentJobs: 20 }),
  },
  {
    code: 'HOURLY_RATE_LIMIT_EXCEEDED',
    estimate: 10,
    setUp: (q) => createUser(q, 'free', { ...UNLIMITED, callsPerHour: 20 }),
  },
  {
    // 30 of 50 enrichments used earlier today, by the plan's own limit.
    code: 'DAILY_QUOTA_EXCEEDED',
    estimate: 10,
    setUp: async (q, now) => {
      const id = await createUser(q, 'free', { ...UNLIMITED, enrichmentsPerDay: 50 });
      await q(`INSERT INTO ai_daily_usage (user_id, day, enrichments, tokens) VALUES ($1, $2::date, 30, 0)`, [id, dayWindow(now).key]);
      return id;
    },
  },
  {
    // 9 000 of 10 000 tokens used today; 20 × 50 fit exactly.
    code: 'DAILY_TOKEN_QUOTA_EXCEEDED',
    estimate: 50,
    setUp: async (q, now) => {
      const id = await createUser(q, 'free', { ...UNLIMITED, tokensPerDay: 10_000 });
      await q(`INSERT INTO ai_daily_usage (user_id, day, enrichments, tokens) VALUES ($1, $2::date, 0, 9000)`, [id, dayWindow(now).key]);
      return id;
    },
  },
  {
    code: 'MONTHLY_TOKEN_QUOTA_EXCEEDED',
    estimate: 50,
    setUp: async (q, now) => {
      const id = await createUser(q, 'free', { ...UNLIMITED, tokensPerMonth: 100_000 });
      await q(`INSERT INTO ai_monthly_usage (user_id, month, tokens) VALUES ($1, $2::date, 99000)`, [id, monthWindow(now).key]);
      return id;
    },
  },
];

/** A ChargeRequest body with fresh item id and key. */
export function chargeBody(userId: string, estimatedTokens: number, key = newId('job')) {
  return { v: 1 as const, userId, itemId: newId('itm'), idempotencyKey: key, estimatedTokens };
}
