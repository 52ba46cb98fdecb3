// `npm run bench -- api`: accepted POST /v1/items per second (charge through quota-service, store
// item + outbox row, enqueue) and p50/p99 at 64 clients, beside a bare Express JSON endpoint in
// its own process measured in the same run. No worker runs: this measures acceptance only.
// CPU ms per accepted item (bench/support/cpu.ts) by service, PostgreSQL (the run's database's
// backends) and Redis, beside the bare endpoint's CPU per request; each service's VmRSS at the end.
// BENCH_CPU_PROF=1 writes a V8 CPU profile of each service to .run/prof/ when it stops.
// The two run in turns (BENCH_ROUNDS rounds of BENCH_DURATION_S seconds each, the first of each round
// alternating), so a change in the shared machine's speed falls on both; the ratio is taken within
// each round and its median printed.
import { createRedis } from '@qv/queue';
import { createUser, startStack, testRedisUrl } from '../libs/testing/src';
import globalSetup from '../libs/testing/src/global-setup';
import { load, rateOf, type HttpResult } from './support/autocannon';
import { startBareExpress } from './support/bare-server';
import { median } from './support/median';
import { productionPools } from './support/production-pools';
import { CpuWindow, formatPerItem, formatResident, ProcessesCpu, profileEnv } from './support/cpu';

const CONNECTIONS = 64;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const USERS = 64;

async function main(): Promise<void> {
  await globalSetup();
  const profile = profileEnv();
  const stack = await startStack({ skip: ['enrichment-worker', 'ledger-consumer', 'llm-simulator', 'cache-service'], env: { LOG_LEVEL: 'warn', ...profile }, serviceEnv: productionPools() });
  const bare = await startBareExpress();
  const redis = createRedis(testRedisUrl());
  try {
    const services = () => Object.values(stack.services).map((p) => ({ name: p!.name, pid: p!.pid }));
    const [{ pid: benchBackend }] = await stack.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const window = new CpuWindow(services, stack.db.name, redis, benchBackend);
    const bareCpu = new ProcessesCpu(() => [{ name: 'bare express', pid: bare.pid }]);
    const keys: string[] = [];
    const unlimited = { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };
    for (let i = 0; i < USERS; i++) keys.push((await createUser(stack.api, stack.adminKey, 'pro_annual', unlimited)).key);
    const body = JSON.stringify({ content: 'Benchmarks print a ratio against a raw baseline measured in the same run.', tasks: ['summarize', 'tag'] });
    let next = 0;
    const items = [{ method: 'POST', headers: { 'content-type': 'application/json' }, body, setupRequest: (req: Record<string, unknown>) => ({ ...req, path: '/v1/items', headers: { ...(req.headers as object), authorization: `Bearer ${keys[next++ % keys.length]}` } }) }];
    const bareReq = [{ method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body }];

    await load(bare.url, CONNECTIONS, 2, bareReq); // warm-up
    await load(stack.api, CONNECTIONS, 2, items);

    const cpu: Record<string, number> = {};
    let bareMs = 0;
    let accepted = 0;
    let bareCount = 0;
    const rounds: Array<{ bare: number; api: number; p50: number; p99: number; bareP99: number }> = [];
    const runBare = async () => {
      bareCpu.start();
      const result = await load(bare.url, CONNECTIONS, DURATION_S, bareReq);
      bareMs += bareCpu.stop()['bare express'];
      bareCount += result.statusCodeStats?.['202']?.count ?? 0;
      return result;
    };
    const runApi = async () => {
      await window.start();
      const result = await load(stack.api, CONNECTIONS, DURATION_S, items);
      for (const [name, ms] of Object.entries((await window.stop()).cpu)) cpu[name] = (cpu[name] ?? 0) + ms;
      accepted += result.statusCodeStats?.['202']?.count ?? 0;
      return result;
    };
    let errors = 0;
    let non202 = 0;
    for (let r = 0; r < ROUNDS; r++) {
      // Each round starts with the other side than the last.
      let baseline: HttpResult;
      let api: HttpResult;
      if (r % 2 === 0) {
        baseline = await runBare();
        api = await runApi();
      } else {
        api = await runApi();
        baseline = await runBare();
      }
      errors += api.errors;
      non202 += api.non2xx;
      rounds.push({ bare: rateOf(baseline, '202'), api: rateOf(api, '202'), p50: api.latency.p50, p99: api.latency.p99, bareP99: baseline.latency.p99 });
    }
    const ratios = rounds.map((round) => (100 * round.api) / round.bare);
    console.log(`POST /v1/items, ${CONNECTIONS} connections, ${USERS} users, ${ROUNDS} rounds of ${DURATION_S} s each (medians over the rounds)`);
    console.log(`  bare Express JSON   ${median(rounds.map((x) => x.bare)).toFixed(0).padStart(6)} req/s   p99 ${median(rounds.map((x) => x.bareP99))} ms`);
    console.log(`  api-service accept  ${median(rounds.map((x) => x.api)).toFixed(0).padStart(6)} req/s   p50 ${median(rounds.map((x) => x.p50))} ms   p99 ${median(rounds.map((x) => x.p99))} ms   (non-202: ${non202}, errors: ${errors})`);
    console.log(`  ratio ${median(ratios).toFixed(1)} % of bare (target ≥ 25 %; rounds: ${ratios.map((x) => `${x.toFixed(1)} %`).join(', ')}), p99 ${median(rounds.map((x) => x.p99))} ms (target < 50 ms)`);
    console.log(`  CPU ms per accepted item: ${formatPerItem(cpu, accepted)}; bare Express ${(bareMs / bareCount).toFixed(3)} ms/request (${accepted} and ${bareCount} requests)`);
    console.log(`  resident at the end: ${formatResident(services())}`);
  } finally {
    redis.disconnect();
    bare.stop();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
