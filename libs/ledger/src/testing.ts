/*
 * Test fixtures shared by the ledger's integration tests, the ledger-consumer's and the ledger
 * benchmark. Not exported from the lib's index: production code has no use for them.
 */
import { newId, type UsageCompleted, type UsageFailed } from '@qv/contracts';
import type { SqlPort } from '@qv/db';
import { charge } from '@qv/quota';

type Query = (sql: string, params?: unknown[]) => Promise<unknown[]>;

/** Limits no test reaches, so charges are refused by nothing (null = unlimited). */
export const UNLIMITED = { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };

/** Inserts a user on `plan` with optional overrides; returns its id. */
export async function insertUser(query: Query, plan = 'pro_monthly', overrides: Record<string, number | null> | null = UNLIMITED): Promise<string> {
  const id = newId('usr');
  await query(`INSERT INTO users (id, plan_id) VALUES ($1, $2)`, [id, plan]);
  if (overrides) await query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)`, [id, JSON.stringify(overrides)]);
  return id;
}

export interface Charged {
  reservationId: string;
  userId: string;
  itemId: string;
  estimate: number;
  /** The enrichment job's id: what the worker derives event ids from. */
  jobId: string;
}

/** A real charge through libs/quota: the reservation and the day/month counters, as in production. */
export async function reserve(db: SqlPort, userId: string, estimate: number, now: Date, ttlSeconds = 900): Promise<Charged> {
  const itemId = newId('itm', now.getTime());
  const result = await charge(db, { v: 1, userId, itemId, idempotencyKey: itemId, estimatedTokens: estimate }, { now, reservationTtlSeconds: ttlSeconds });
  if (!result.ok) throw new Error(`charge refused: ${result.code}`);
  return { reservationId: result.reservation.id, userId, itemId, estimate, jobId: itemId };
}

/** The `usage.completed` the worker would publish for `c` (event id as the worker derives it). */
export function completedEvent(c: Charged, tokens: { prompt: number; completion: number }, extra: Partial<UsageCompleted> = {}): UsageCompleted {
  const eventId = `evt_${c.jobId}_completed`;
  return {
    v: 1,
    type: 'usage.completed',
    eventId,
    userId: c.userId,
    itemId: c.itemId,
    reservationId: c.reservationId,
    idempotencyKey: eventId,
    charged: true,
    occurredAt: new Date().toISOString(),
    model: 'sim-1',
    promptTokens: tokens.prompt,
    completionTokens: tokens.completion,
    costUsd: (tokens.prompt * 1 + tokens.completion * 2) / 1_000_000,
    cache: { tier: null, hit: false, tokensSaved: 0, costSavedUsd: 0 },
    ...extra,
  };
}

/** The `usage.failed` the dead-letter path would publish for `c`. */
export function failedEvent(c: Charged, extra: Partial<UsageFailed> = {}): UsageFailed {
  const eventId = `evt_${c.jobId}_failed`;
  return {
    v: 1,
    type: 'usage.failed',
    eventId,
    userId: c.userId,
    itemId: c.itemId,
    reservationId: c.reservationId,
    idempotencyKey: eventId,
    charged: true,
    occurredAt: new Date().toISOString(),
    reason: 'LLM 500',
    ...extra,
  };
}
