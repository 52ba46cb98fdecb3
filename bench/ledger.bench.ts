// `npm run bench -- ledger`: usage events applied per second by applyUsageEvent (ledger entry +
// settlement of a real reservation, exactly once, one statement: ledger_apply_usage_event) at 16
// concurrent, beside raw INSERTs of the same ledger rows (pg Pool, 16 concurrent, autocommit) in the
// same run. applyUsageEvent runs on the pg Pool, as ledger-consumer does; also the duplicate path (the
// same events delivered again). Reservations are made beforehand by charge().
import type { Pool } from 'pg';
import { createPool, prepared } from '@qv/db/sql';
import { newId, type UsageEvent } from '@qv/contracts';
import { applyUsageEvent, reconcile } from '@qv/ledger';
import globalSetup from '../libs/testing/src/global-setup';
import { createTestDatabase } from '../libs/testing/src';
import { completedEvent, failedEvent, insertUser, reserve, type Charged } from '@qv/ledger/testing';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const USERS = 200;

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  total: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Runs `work(i)` for i in [0, n) with `concurrency` in flight; per-call latency and overall rate. */
async function drive(n: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<Figures> {
  const latencies: number[] = new Array(n);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const t = performance.now();
        await work(i);
        latencies[i] = performance.now() - t;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), total: n };
}

/** Every 10th event a failure (a release), the rest completions with their actual tokens. */
const eventsFor = (charged: Charged[]): UsageEvent[] =>
  charged.map((c, i) => (i % 10 === 9 ? failedEvent(c) : completedEvent(c, { prompt: 200 + (i % 500), completion: 20 + (i % 80) })));

// Prepared, as the services' statements are (both sides of the ratio run on createPool).
const RAW_INSERT_SQL = prepared(
  `INSERT INTO ai_usage_ledger (id, event_id, user_id, item_id, reservation_id, kind, model, prompt_tokens, completion_tokens, total_tokens,
                                cost_usd, cache_tier, cache_hit, tokens_saved, cost_saved_usd, charged, idempotency_key, day, created_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, false, $16, $17::date, now())`,
);

/** The same row applyUsageEvent writes, as one autocommitted INSERT (uncharged, so reconciliation ignores the copies). */
function rawInsert(pool: Pool, e: UsageEvent): Promise<unknown> {
  const c = e.type === 'usage.completed' ? e : null;
  const eventId = `raw_${e.eventId}`;
  return pool.query(
    RAW_INSERT_SQL,
    [
      newId('led'),
      eventId,
      e.userId,
      e.itemId,
      e.reservationId,
      c ? 'completed' : 'failed',
      c?.model ?? null,
      c?.promptTokens ?? 0,
      c?.completionTokens ?? 0,
      c ? c.promptTokens + c.completionTokens : 0,
      c?.costUsd ?? 0,
      c?.cache.tier ?? null,
      c?.cache.hit ?? false,
      c?.cache.tokensSaved ?? 0,
      c?.cache.costSavedUsd ?? 0,
      eventId,
      new Date().toISOString().slice(0, 10),
    ],
  );
}

async function main(): Promise<void> {
  await globalSetup();
  const db = await createTestDatabase();
  // One pool for the applies and the reconciliation, as in ledger-consumer.
  const pool = createPool({ connectionString: db.url, max: CONCURRENCY });
  pool.on('error', () => undefined); // idle connections end when the database is dropped
  try {
    const users: string[] = [];
    for (let i = 0; i < USERS; i++) users.push(await insertUser(db.query));
    /** `n` real reservations through charge(), spread over the users, made before any timing. */
    const reservations = async (n: number): Promise<Charged[]> => {
      const out: Charged[] = new Array(n);
      await drive(n, CONCURRENCY, async (i) => (out[i] = await reserve(pool, users[i % USERS], 1000, new Date(), 3600)));
      return out;
    };

    // Warm both paths.
    const warm = eventsFor(await reservations(300));
    await drive(warm.length, CONCURRENCY, (i) => applyUsageEvent(pool, warm[i]));
    await drive(warm.length, CONCURRENCY, (i) => rawInsert(pool, warm[i]));

    const applyAll = (db: Pool, events: UsageEvent[], expected: 'applied' | 'duplicate') =>
      drive(events.length, CONCURRENCY, async (i) => {
        if ((await applyUsageEvent(db, events[i])) !== expected) throw new Error(`expected ${expected}`);
      });
    const rounds: Array<{ raw: Figures; apply: Figures; dup: Figures }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const events = eventsFor(await reservations(EVENTS));
      const raw = await drive(events.length, CONCURRENCY, (i) => rawInsert(pool, events[i]));
      const apply = await applyAll(pool, events, 'applied');
      // Every event delivered again: the duplicate path.
      const dup = await applyAll(pool, events, 'duplicate');
      rounds.push({ raw, apply, dup });
      console.log(
        `  round ${r + 1}: raw ${raw.perSecond.toFixed(0)}/s · applyUsageEvent ${apply.perSecond.toFixed(0)}/s · duplicates ${dup.perSecond.toFixed(0)}/s · ` + `ratio ${((100 * apply.perSecond) / raw.perSecond).toFixed(1)} %`,
      );
    }

    // Exactly once held under the load: one entry per event, counters equal to the entries.
    const [counts] = await db.query<{ n: number; distinct: number }>(`SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct FROM ai_usage_ledger WHERE event_id NOT LIKE 'raw_%'`);
    const drift = (await reconcile(pool)).reduce((s, row) => s + row.drift, 0);
    if (counts.n !== counts.distinct || counts.n !== 300 + ROUNDS * EVENTS || drift !== 0) throw new Error(`ledger inconsistent after the run: ${JSON.stringify({ ...counts, drift })}`);

    const ratio = (x: (typeof rounds)[number]) => x.apply.perSecond / x.raw.perSecond;
    const sorted = [...rounds].sort((a, b) => ratio(a) - ratio(b));
    const mid = sorted[Math.floor(sorted.length / 2)];
    const line = (name: string, f: Figures) =>
      `  ${name.padEnd(52)} ${f.perSecond.toFixed(0).padStart(6)} events/s   p50 ${f.p50.toFixed(2).padStart(6)} ms   p99 ${f.p99.toFixed(2).padStart(7)} ms`;
    console.log(`ledger apply, ${CONCURRENCY} concurrent, ${EVENTS} events per round (90 % completions, 10 % failures), ${ROUNDS} rounds, median round:`);
    console.log(line('raw INSERT of the ledger row (pg Pool, autocommit)', mid.raw));
    console.log(line('applyUsageEvent on the pg Pool (one statement)', mid.apply));
    console.log(line('applyUsageEvent on the pg Pool, duplicate delivery', mid.dup));
    console.log(`  ratio ${((100 * ratio(mid)) / 1).toFixed(1)} % of raw (rounds: ${rounds.map((x) => `${(100 * ratio(x)).toFixed(1)} %`).join(', ')}); ${counts.n} events applied once each, drift ${drift}`);
  } finally {
    await pool.end();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
