import { newId } from '@qv/contracts';
import { runMigrations, seedPlans } from '@qv/db';
import { startService, testServiceCredentials, type ServiceProcess } from '@qv/testing';
import { Client, Pool } from 'pg';
import { Agent } from 'undici';
import { startChaosPostgres } from './own-postgres';
import { formatColumns } from './report';

/** The five limits, each as overrides leaving exactly `left` charges of `estimate` tokens (every other limit unlimited). */
const UNLIMITED = { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };
export const EXACTNESS_LIMITS = [
  { limit: 'concurrentJobs', code: 'CONCURRENCY_LIMIT_EXCEEDED', overrides: (left: number, _e: number) => ({ ...UNLIMITED, concurrentJobs: left }) },
  { limit: 'callsPerHour', code: 'HOURLY_RATE_LIMIT_EXCEEDED', overrides: (left: number, _e: number) => ({ ...UNLIMITED, callsPerHour: left }) },
  { limit: 'enrichmentsPerDay', code: 'DAILY_QUOTA_EXCEEDED', overrides: (left: number, _e: number) => ({ ...UNLIMITED, enrichmentsPerDay: left }) },
  { limit: 'tokensPerDay', code: 'DAILY_TOKEN_QUOTA_EXCEEDED', overrides: (left: number, e: number) => ({ ...UNLIMITED, tokensPerDay: left * e }) },
  { limit: 'tokensPerMonth', code: 'MONTHLY_TOKEN_QUOTA_EXCEEDED', overrides: (left: number, e: number) => ({ ...UNLIMITED, tokensPerMonth: left * e }) },
] as const;

/** quota-service's per-user admission gate as shipped, or opened so every charge reaches PostgreSQL. */
export const GATES = {
  default: {},
  open: { CHARGE_ADMISSION_QUEUE: '100000', CHARGE_ADMISSION_WAIT_MS: '600000', DB_STATEMENT_TIMEOUT_MS: '600000' },
} as const;
export type GateName = keyof typeof GATES;

export interface ExactnessRow {
  limit: string;
  gate: GateName;
  sent: number;
  /** Answered 201 by quota-service during the burst. */
  accepted: number;
  /**
   * Answered 201 after it, to charges sent one at a time until the limit's own 429: what the
   * per-user gate shed of the burst left unused (0 when the burst reached the limit).
   */
  afterBurst: number;
  /** The answer that ended those charges: the limit's code, when the limit was reached exactly. */
  endedBy: string;
  /** Reservations PostgreSQL holds for the user afterwards (the data, not the answers). */
  reservations: number;
  limitRefusals: number;
  rateRefusals: number;
  /** Any other answer (5xx, another 4xx, no answer): must be 0. */
  other: Record<string, number>;
  /** From the first request sent to the last answer. */
  seconds: number;
}

export interface ExactnessOptions {
  charges: number;
  left: number;
  gates: GateName[];
  fallbackPgServerUrl: string;
}

const ESTIMATE = 10;

/**
 * Issue 12 item 4: `charges` concurrent charges for one user with `left` to go, spread round-robin
 * over 3 quota-service replicas, straight on its internal HTTP API with api-service's credential;
 * for each of the five limits and each gate setting; then charges one at a time until the limit
 * refuses. Exact means: exactly `left` answered 201 in all (the burst's and, where the per-user gate
 * shed part of the burst on a slow machine, those after it), exactly `left` reservations in the
 * database, the last answer the limit's own 429, every other answer of the burst a 429 with the
 * limit's code or USER_REQUEST_RATE_EXCEEDED (the gate), never anything else.
 */
export async function runExactness(o: ExactnessOptions): Promise<{ rows: ExactnessRow[]; table: string; violations: string[] }> {
  const pg = await startChaosPostgres(o.fallbackPgServerUrl);
  const db = new Client({ connectionString: pg.url });
  const rows: ExactnessRow[] = [];
  try {
    await runMigrations(pg.url);
    const seeding = new Pool({ connectionString: pg.url, max: 1 });
    await seedPlans(seeding).finally(() => seeding.end());
    await db.connect();
    const credentials = testServiceCredentials();
    for (const gate of o.gates) {
      const replicas: ServiceProcess[] = await Promise.all(
        [0, 1, 2].map(() => startService('quota-service', { DATABASE_URL: pg.url, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...credentials.envOf('quota-service'), ...GATES[gate] }, 60_000)),
      );
      try {
        for (const spec of EXACTNESS_LIMITS) {
          const userId = newId('usr');
          await db.query(`INSERT INTO users (id, plan_id) VALUES ($1, 'free')`, [userId]);
          await db.query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)`, [userId, JSON.stringify(spec.overrides(o.left, ESTIMATE))]);
          const row = await burst(replicas.map((r) => r.url), credentials.as('api-service'), userId, o.charges, spec.code);
          const after = await untilRefused(replicas.map((r) => r.url), credentials.as('api-service'), userId, o.left + 1);
          const held = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ai_usage_reservations WHERE user_id = $1`, [userId]);
          rows.push({ limit: spec.limit, gate, ...row, ...after, reservations: Number(held.rows[0].n) });
          console.log(`  ${spec.limit} (${gate} gate): ${row.accepted} accepted of ${row.sent} in ${row.seconds.toFixed(1)} s`);
        }
      } finally {
        await Promise.all(replicas.map((r) => r.stop(5000)));
      }
    }
  } finally {
    await db.end().catch(() => undefined);
    await pg.stop();
  }
  const violations: string[] = [];
  for (const r of rows) {
    if (r.accepted + r.afterBurst !== o.left) violations.push(`${r.limit} (${r.gate}): ${r.accepted} + ${r.afterBurst} accepted, expected ${o.left}`);
    if (r.endedBy !== EXACTNESS_LIMITS.find((l) => l.limit === r.limit)!.code) violations.push(`${r.limit} (${r.gate}): the charges after the burst ended with ${r.endedBy}`);
    if (r.reservations !== o.left) violations.push(`${r.limit} (${r.gate}): ${r.reservations} reservations in the database, expected ${o.left}`);
    if (Object.keys(r.other).length) violations.push(`${r.limit} (${r.gate}): other answers ${JSON.stringify(r.other)}`);
    if (r.accepted + r.limitRefusals + r.rateRefusals !== r.sent) violations.push(`${r.limit} (${r.gate}): answers do not add up`);
  }
  const table = formatColumns(
    `exactness: ${o.charges} concurrent charges for one user with ${o.left} left, round-robin over 3 quota-service replicas (${pg.description})`,
    ['limit', 'admission gate', 'sent', '201', '201 after', 'reservations in db', '429 limit code', '429 USER_REQUEST_RATE_EXCEEDED', 'anything else', 'seconds', 'ok?'],
    rows.map((r) => [
      r.limit,
      r.gate === 'default' ? 'as shipped' : 'opened',
      String(r.sent),
      String(r.accepted),
      String(r.afterBurst),
      String(r.reservations),
      String(r.limitRefusals),
      String(r.rateRefusals),
      Object.keys(r.other).length ? JSON.stringify(r.other) : '0',
      r.seconds.toFixed(1),
      r.accepted + r.afterBurst === o.left && r.reservations === o.left && Object.keys(r.other).length === 0 && r.endedBy === EXACTNESS_LIMITS.find((l) => l.limit === r.limit)!.code ? 'ok' : 'FAIL',
    ]),
  );
  const gateNote = `admission gate per user and replica, as shipped: CHARGE_ADMISSION_ACTIVE 2, _QUEUE 64, _WAIT_MS 1000; opened: ${Object.entries(GATES.open).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  return { rows, table: `${table}\n${gateNote}`, violations };
}

async function burst(urls: string[], auth: Record<string, string>, userId: string, n: number, limitCode: string): Promise<Omit<ExactnessRow, 'limit' | 'gate' | 'reservations' | 'afterBurst' | 'endedBy'>> {
  // One connection per request: all n in flight at once, none waiting in a client-side pool.
  const agent = new Agent({ connections: null, pipelining: 0, headersTimeout: 900_000, bodyTimeout: 900_000 });
  const counts = { accepted: 0, limitRefusals: 0, rateRefusals: 0 };
  const other: Record<string, number> = {};
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const body = { v: 1, userId, itemId: newId('itm'), idempotencyKey: newId('job'), estimatedTokens: ESTIMATE };
      let outcome: string;
      try {
        const res = await fetch(`${urls[i % urls.length]}/internal/charges`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          // @ts-expect-error undici's dispatcher option (Node's fetch is undici's)
          dispatcher: agent,
        });
        const json = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
        const retryAfter = res.headers.get('retry-after');
        if (res.status === 201) outcome = 'accepted';
        else if (res.status === 429 && json.error?.code === limitCode && retryAfter !== null) outcome = 'limit';
        else if (res.status === 429 && json.error?.code === 'USER_REQUEST_RATE_EXCEEDED' && retryAfter !== null) outcome = 'rate';
        else outcome = `${res.status} ${json.error?.code ?? ''}${retryAfter === null && res.status === 429 ? ' (no Retry-After)' : ''}`.trim();
      } catch (err) {
        outcome = `no answer (${(err as Error).cause ? ((err as Error).cause as Error).message : (err as Error).message})`;
      }
      if (outcome === 'accepted') counts.accepted++;
      else if (outcome === 'limit') counts.limitRefusals++;
      else if (outcome === 'rate') counts.rateRefusals++;
      else other[outcome] = (other[outcome] ?? 0) + 1;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await agent.close();
  return { sent: n, ...counts, other, seconds };
}

/** Charges one at a time (round-robin) until one is refused, at most `max`: how many were accepted, and the refusal's code. */
async function untilRefused(urls: string[], auth: Record<string, string>, userId: string, max: number): Promise<{ afterBurst: number; endedBy: string }> {
  for (let i = 0; i < max; i++) {
    const res = await fetch(`${urls[i % urls.length]}/internal/charges`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ v: 1, userId, itemId: newId('itm'), idempotencyKey: newId('job'), estimatedTokens: ESTIMATE }),
    });
    const json = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
    if (res.status !== 201) return { afterBurst: i, endedBy: json.error?.code ?? String(res.status) };
  }
  return { afterBurst: max, endedBy: 'never refused' };
}
