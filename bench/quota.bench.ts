// `npm run bench -- quota`: charges per second and p50/p99 through quota-service over HTTP at 64
// concurrent clients, beside THE SAME statement — `SELECT * FROM quota_charge(...)`, the whole
// charge in one round trip (libs/quota CHARGE_SQL) — run straight against PostgreSQL from a pg Pool
// at 64 concurrent callers in the same run. One more line runs libs/quota's charge() in this
// process over that same pg Pool (quota-service's hot path), to split the service's overhead into
// "lib" and "Express + HTTP". Beside them the peer a team would pick for a daily limit:
// rate-limiter-flexible's RateLimiterPostgres.consume() (one counter per key, one upsert) on the
// same PostgreSQL and pool. The machine is shared, so the phases
// alternate in rounds and the median round is reported. Every phase charges its own fresh users
// (1000, so per-user locks do not serialise everything), so no phase pays for the reservations an
// earlier one left behind.
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { createPool } from '@qv/db/sql';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { newId } from '@qv/contracts';
import { charge, CHARGE_SQL, chargeParams } from '@qv/quota';
import globalSetup from '../libs/testing/src/global-setup';
import { createTestDatabase, startService, testServiceCredentials } from '../libs/testing/src';
import { load, rateOf } from './support/autocannon';
import { chargeCostByVolume, printVolumeTable } from './support/charge-by-volume';

const CONNECTIONS = 64;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const USERS = 1000;
const POOL = Number(process.env.BENCH_POOL ?? 20);
const ESTIMATE = 500;
const TTL_SECONDS = 900;
// Limits large enough never to refuse, but not null: every one of the five checks still runs.
const LARGE = { concurrentJobs: 1_000_000, callsPerHour: 1_000_000, enrichmentsPerDay: 1_000_000, tokensPerDay: 1e12, tokensPerMonth: 1e13 };

const pick = (users: string[]) => users[Math.floor(Math.random() * users.length)];
const key = (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url')}`;

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  total: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `CONNECTIONS` callers each running `one()` back to back for `seconds`. */
async function closedLoop(seconds: number, one: () => Promise<void>): Promise<Figures> {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        const t0 = process.hrtime.bigint();
        await one();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), total: latencies.length };
}

/** The charge statement itself, straight from node-postgres: the ceiling any service can reach. */
function runRaw(pool: Pool, users: string[], seconds: number): Promise<Figures> {
  return closedLoop(seconds, async () => {
    const now = new Date();
    const args = { userId: pick(users), itemId: newId('itm'), idempotencyKey: key('raw'), estimatedTokens: ESTIMATE, reservationId: newId('rsv', now.getTime()), now, ttlSeconds: TTL_SECONDS };
    const { rows } = await pool.query<{ outcome: string }>(CHARGE_SQL, chargeParams(args));
    if (rows[0].outcome !== 'accepted') throw new Error(`raw baseline got ${rows[0].outcome}: the limits are meant to be out of reach`);
  });
}

/** The peer: one counter per key (a daily limit), never reached, over the same pool. */
async function peerLimiter(pool: Pool): Promise<RateLimiterPostgres> {
  return new Promise((resolve, reject) => {
    const limiter: RateLimiterPostgres = new RateLimiterPostgres({ storeClient: pool, tableName: 'bench_rate_limiter_flexible', keyPrefix: 'daily', points: 1e9, duration: 86_400 }, (err?: Error) =>
      err ? reject(err) : resolve(limiter),
    );
  });
}

function runPeer(limiter: RateLimiterPostgres, users: string[], seconds: number): Promise<Figures> {
  return closedLoop(seconds, async () => {
    await limiter.consume(pick(users), 1);
  });
}

/** libs/quota's charge() in this process: the service's work minus Express and HTTP. */
function runLib(db: Pool, users: string[], seconds: number): Promise<Figures> {
  return closedLoop(seconds, async () => {
    const r = await charge(db, { v: 1, userId: pick(users), itemId: newId('itm'), idempotencyKey: key('lib'), estimatedTokens: ESTIMATE }, { now: new Date(), reservationTtlSeconds: TTL_SECONDS });
    if (!r.ok || r.replayed) throw new Error('lib run: a charge was not accepted');
  });
}

/** The credentials of this run: quota-service checks api-service's on every charge. */
const credentials = testServiceCredentials();

async function runHttp(url: string, users: string[], seconds: number): Promise<Figures> {
  const result = await load(`${url}/internal/charges`, CONNECTIONS, seconds, [
    {
      method: 'POST',
      // As api-service: the service credential is checked on every charge, as in production.
      headers: { ...credentials.as('api-service'), 'content-type': 'application/json' },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ v: 1, userId: pick(users), itemId: newId('itm'), idempotencyKey: key('http'), estimatedTokens: ESTIMATE }) }),
    },
  ]);
  if (result.non2xx || result.errors) throw new Error(`HTTP run had ${result.non2xx} non-2xx answers (${JSON.stringify(result.statusCodeStats)}) and ${result.errors} errors`);
  return { perSecond: rateOf(result, '201'), p50: result.latency.p50, p99: result.latency.p99, total: result.statusCodeStats?.['201']?.count ?? 0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const line = (name: string, f: Figures) =>
  `  ${name.padEnd(34)} ${f.perSecond.toFixed(0).padStart(6)} charges/s   p50 ${f.p50.toFixed(2).padStart(6)} ms   p99 ${f.p99.toFixed(2).padStart(7)} ms   (${f.total} charges)`;

async function main(): Promise<void> {
  await globalSetup();
  const db = await createTestDatabase();
  const freshUsers = async (): Promise<string[]> => {
    const users = Array.from({ length: USERS }, () => newId('usr'));
    await db.query(`INSERT INTO users (id, plan_id) SELECT unnest($1::text[]), 'pro_annual'`, [users]);
    await db.query(`INSERT INTO user_quota_overrides (user_id, limits) SELECT unnest($1::text[]), $2::jsonb`, [users, JSON.stringify(LARGE)]);
    return users;
  };

  const service = await startService('quota-service', { DATABASE_URL: db.url, DB_POOL_SIZE: String(POOL), LOG_LEVEL: 'warn', ...credentials.envOf('quota-service') });
  // The services' pool: the charge statement prepared once per connection, for the raw run as for quota-service.
  const pool = createPool({ connectionString: db.url, max: POOL });
  try {
    // Warm all paths (JIT, connection pools, plan caches of the PL/pgSQL function per connection).
    await runRaw(pool, await freshUsers(), 2);
    await runLib(pool, await freshUsers(), 2);
    await runHttp(service.url, await freshUsers(), 2);
    const limiter = await peerLimiter(pool);
    await runPeer(limiter, await freshUsers(), 2);

    const rounds: { raw: Figures; libPg: Figures; http: Figures; peer: Figures; ratio: number }[] = [];
    const short = (f: Figures) => `${f.perSecond.toFixed(0)}/s p99 ${f.p99.toFixed(1)} ms`;
    for (let i = 0; i < ROUNDS; i++) {
      const raw = await runRaw(pool, await freshUsers(), DURATION_S);
      const libPg = await runLib(pool, await freshUsers(), DURATION_S);
      const http = await runHttp(service.url, await freshUsers(), DURATION_S);
      const peer = await runPeer(limiter, await freshUsers(), DURATION_S);
      rounds.push({ raw, libPg, http, peer, ratio: http.perSecond / raw.perSecond });
      console.log(`  round ${i + 1}: raw ${short(raw)} · lib/pg ${short(libPg)} · http ${short(http)} · peer ${short(peer)} · ratio ${((100 * http.perSecond) / raw.perSecond).toFixed(1)} %`);
    }
    // The round whose ratio is the median, reported whole so its figures belong together.
    const mid = rounds.find((r) => r.ratio === median(rounds.map((x) => x.ratio)))!;
    console.log(`quota charge (one statement: quota_charge()), ${CONNECTIONS} concurrent, ${USERS} fresh users per phase, pool ${POOL}, ${ROUNDS} rounds × ${DURATION_S} s, median round:`);
    console.log(line('raw SQL (pg Pool, same statement)', mid.raw));
    console.log(line('charge() in-process, pg Pool', mid.libPg));
    console.log(line('quota-service over HTTP', mid.http));
    console.log(line('peer: RateLimiterPostgres.consume()', mid.peer));
    const ratios = rounds.map((r) => `${(r.ratio * 100).toFixed(1)} %`).join(', ');
    console.log(`  ratio ${(mid.ratio * 100).toFixed(1)} % of raw (target ≥ 60 %; rounds: ${ratios}), p99 ${mid.http.p99} ms (target < 20 ms)`);
    const peerRatios = rounds.map((r) => `${((100 * r.http.perSecond) / r.peer.perSecond).toFixed(0)} %`).join(', ');
    console.log(`  quota-service (five limits, a reservation, idempotency) ÷ the peer (one counter): ${peerRatios} by round (target ≥ 100 %)`);
    const volumes = (process.env.BENCH_VOLUMES ?? '0,10000,100000,1000000').split(',').map(Number);
    printVolumeTable(await chargeCostByVolume(pool, volumes, Number(process.env.BENCH_VOLUME_SAMPLES ?? 200)));
  } finally {
    await pool.end();
    await service.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
