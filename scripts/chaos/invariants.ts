import { Client, type Pool } from 'pg';

/** A client or a pool: both answer `query`. */
type Db = Client | Pool;

/**
 * Each user's effective limits, from the plan and the stored overrides (a key present in the
 * overrides replaces the plan's value, JSON null meaning unlimited). Written here again on
 * purpose, apart from quota-service's SQL: the checks must not trust the code they check.
 */
const LIMITS_CTE = `lim AS (
  SELECT u.id AS user_id,
    ${['concurrentJobs:concurrent_jobs', 'callsPerHour:calls_per_hour', 'enrichmentsPerDay:enrichments_per_day', 'tokensPerDay:tokens_per_day', 'tokensPerMonth:tokens_per_month']
      .map((pair) => {
        const [json, column] = pair.split(':');
        return `CASE WHEN o.limits ? '${json}' THEN (o.limits->>'${json}')::bigint ELSE p.${column}::bigint END AS ${column}`;
      })
      .join(',\n    ')}
  FROM users u JOIN plans p ON p.id = u.plan_id LEFT JOIN user_quota_overrides o ON o.user_id = u.id
)`;

export interface LimitViolation {
  userId: string;
  limit: string;
  used: number;
  allowed: number;
}

/**
 * Every limit, read from the rows the charges left (not from any counter the driver kept):
 * - enrichments/day: reservations of the day not released, and the day's counter;
 * - tokens/day and tokens/month: estimates still held plus actual tokens of settled reservations, and the counters;
 * - calls/hour: reservations not released created within any 60 minutes (each window starting at a charge).
 * Concurrency has no history in the tables (a slot is freed by the status): `sampleConcurrency` watches it during the run.
 */
export async function limitViolations(db: Db): Promise<LimitViolation[]> {
  const rows = await db.query<{ user_id: string; limit_name: string; used: string; allowed: string }>(`
    WITH ${LIMITS_CTE},
    held AS (
      SELECT user_id, day, month, status,
             CASE WHEN status = 'SETTLED' THEN actual_tokens WHEN status IN ('RESERVED', 'EXPIRED') THEN estimated_tokens WHEN status = 'RELEASED' THEN COALESCE(actual_tokens, 0) ELSE 0 END AS tokens
      FROM ai_usage_reservations
    ),
    per_day AS (
      SELECT user_id, day, count(*) FILTER (WHERE status <> 'RELEASED') AS enrichments, sum(tokens) AS tokens FROM held GROUP BY user_id, day
    ),
    per_month AS (SELECT user_id, month, sum(tokens) AS tokens FROM held GROUP BY user_id, month),
    hourly AS (
      SELECT user_id, max(n) AS calls FROM (
        SELECT user_id, count(*) OVER (PARTITION BY user_id ORDER BY created_at RANGE BETWEEN CURRENT ROW AND INTERVAL '59 minutes 59.999 seconds' FOLLOWING) AS n
        FROM ai_usage_reservations WHERE status <> 'RELEASED'
      ) w GROUP BY user_id
    ),
    checks AS (
      SELECT d.user_id, 'enrichmentsPerDay (reservations)' AS limit_name, d.enrichments AS used, l.enrichments_per_day AS allowed FROM per_day d JOIN lim l USING (user_id)
      UNION ALL SELECT c.user_id, 'enrichmentsPerDay (counter)', c.enrichments, l.enrichments_per_day FROM ai_daily_usage c JOIN lim l USING (user_id)
      UNION ALL SELECT d.user_id, 'tokensPerDay (reservations)', d.tokens, l.tokens_per_day FROM per_day d JOIN lim l USING (user_id)
      UNION ALL SELECT c.user_id, 'tokensPerDay (counter)', c.tokens, l.tokens_per_day FROM ai_daily_usage c JOIN lim l USING (user_id)
      UNION ALL SELECT m.user_id, 'tokensPerMonth (reservations)', m.tokens, l.tokens_per_month FROM per_month m JOIN lim l USING (user_id)
      UNION ALL SELECT c.user_id, 'tokensPerMonth (counter)', c.tokens, l.tokens_per_month FROM ai_monthly_usage c JOIN lim l USING (user_id)
      UNION ALL SELECT h.user_id, 'callsPerHour (reservations)', h.calls, l.calls_per_hour FROM hourly h JOIN lim l USING (user_id)
    )
    SELECT user_id, limit_name, used::text, allowed::text FROM checks WHERE allowed IS NOT NULL AND used > allowed`);
  return rows.rows.map((r) => ({ userId: r.user_id, limit: r.limit_name, used: Number(r.used), allowed: Number(r.allowed) }));
}

/** Users holding more RESERVED reservations than their concurrency limit, in one snapshot. */
export async function concurrencyViolations(db: Db): Promise<LimitViolation[]> {
  const rows = await db.query<{ user_id: string; used: string; allowed: string }>(`
    WITH ${LIMITS_CTE},
    flying AS (SELECT user_id, count(*) AS n FROM ai_usage_reservations WHERE status = 'RESERVED' GROUP BY user_id)
    SELECT f.user_id, f.n::text AS used, l.concurrent_jobs::text AS allowed FROM flying f JOIN lim l USING (user_id)
    WHERE l.concurrent_jobs IS NOT NULL AND f.n > l.concurrent_jobs`);
  return rows.rows.map((r) => ({ userId: r.user_id, limit: 'concurrentJobs (sampled)', used: Number(r.used), allowed: Number(r.allowed) }));
}

/**
 * Samples concurrency every `everyMs` while the run lasts (PostgreSQL restarts included: a failed
 * sample is skipped and counted). Returns a stop function giving what was seen.
 */
export function sampleConcurrency(url: string, everyMs = 250): () => Promise<{ samples: number; failed: number; violations: LimitViolation[] }> {
  let stopped = false;
  const seen: LimitViolation[] = [];
  let samples = 0;
  let failed = 0;
  const loop = (async () => {
    let client: Client | undefined;
    while (!stopped) {
      try {
        if (!client) {
          client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
          client.on('error', () => undefined);
          await client.connect();
        }
        seen.push(...(await concurrencyViolations(client)));
        samples++;
      } catch {
        failed++;
        await client?.end().catch(() => undefined);
        client = undefined;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await client?.end().catch(() => undefined);
  })();
  return async () => {
    stopped = true;
    await loop;
    return { samples, failed, violations: seen };
  };
}

export interface ItemOutcomes {
  accepted: number;
  done: number;
  failedWithDeadLetter: number;
  failedWithoutDeadLetter: string[];
  /** Accepted (202) and then not found in the items table, or not finished after the drain. */
  lost: Array<{ id: string; status: string }>;
  /** Items whose work was billed or recorded twice: more than one `completed` ledger entry, or more than one reservation that was not released. */
  executedTwice: Array<{ id: string; completed: number; chargedReservations: number }>;
  reservationsInFlight: number;
  reservationsExpired: number;
}

/** Decides the fate of every accepted item from the database and the dead-letter list. */
export async function itemOutcomes(db: Db, accepted: string[], deadLetterItemIds: Set<string>): Promise<ItemOutcomes> {
  const items = await db.query<{ id: string; status: string; completed: string; charged: string }>(
    `SELECT a.id, coalesce(i.status, 'MISSING') AS status,
            (SELECT count(*) FROM ai_usage_ledger l WHERE l.item_id = a.id AND l.kind = 'completed')::text AS completed,
            (SELECT count(*) FROM ai_usage_reservations r WHERE r.item_id = a.id AND r.status <> 'RELEASED')::text AS charged
     FROM unnest($1::text[]) AS a(id) LEFT JOIN items i ON i.id = a.id`,
    [accepted],
  );
  const out: ItemOutcomes = { accepted: accepted.length, done: 0, failedWithDeadLetter: 0, failedWithoutDeadLetter: [], lost: [], executedTwice: [], reservationsInFlight: 0, reservationsExpired: 0 };
  for (const row of items.rows) {
    if (row.status === 'DONE') out.done++;
    else if (row.status === 'FAILED') {
      if (deadLetterItemIds.has(row.id)) out.failedWithDeadLetter++;
      else out.failedWithoutDeadLetter.push(row.id);
    } else out.lost.push({ id: row.id, status: row.status });
    const completed = Number(row.completed);
    const charged = Number(row.charged);
    if (completed > 1 || charged > 1) out.executedTwice.push({ id: row.id, completed, chargedReservations: charged });
  }
  const res = await db.query<{ status: string; n: string }>(`SELECT status, count(*)::text AS n FROM ai_usage_reservations WHERE status IN ('RESERVED', 'EXPIRED') GROUP BY status`);
  for (const r of res.rows) {
    if (r.status === 'RESERVED') out.reservationsInFlight = Number(r.n);
    else out.reservationsExpired = Number(r.n);
  }
  return out;
}

/** Reconciliation drift over every user and day: GET /admin/reconciliation's own figure. */
export async function reconciliationDrift(api: string, adminKey: string): Promise<{ totalDrift: number; rows: number; drifting: unknown[] }> {
  const res = await fetch(`${api}/admin/reconciliation?limit=10000`, { headers: { authorization: `Bearer ${adminKey}` } });
  if (res.status !== 200) throw new Error(`GET /admin/reconciliation answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { rows: Array<{ drift: number }>; totalDrift: number; truncated: boolean };
  if (body.truncated) throw new Error('GET /admin/reconciliation has more than 10,000 user-days: the soak cannot count them row by row');
  return { totalDrift: body.rows.reduce((s, r) => s + Math.abs(r.drift), 0), rows: body.rows.length, drifting: body.rows.filter((r) => r.drift !== 0) };
}
