// `npm run bench -- api`: accepted POST /v1/items per second (charge through quota-service, store
// item + outbox row, enqueue) and p50/p99 at 64 clients, beside a bare Express JSON endpoint in
// its own process measured in the same run. No worker runs: this measures acceptance only.
// CPU ms per accepted item (bench/support/cpu.ts) by service, PostgreSQL (the run's database's
// backends) and Redis, beside the bare endpoint's CPU per request; each service's VmRSS at the end.
// BENCH_CPU_PROF=1 writes a V8 CPU profile of each service to .run/prof/ when it stops.
import { createRedis } from '@qv/queue';
import { createUser, startStack, testRedisUrl } from '../libs/testing/src';
import globalSetup from '../libs/testing/src/global-setup';
import { load, rateOf } from './support/autocannon';
import { startBareExpress } from './support/bare-server';
import { productionPools } from './support/production-pools';
import { CpuWindow, formatPerItem, formatResident, ProcessesCpu, profileEnv } from './support/cpu';

const CONNECTIONS = 64;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
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

    bareCpu.start();
    const baseline = await load(bare.url, CONNECTIONS, DURATION_S, bareReq);
    const bareMs = bareCpu.stop()['bare express'];
    await window.start();
    const api = await load(stack.api, CONNECTIONS, DURATION_S, items);
    const { cpu } = await window.stop();
    const accepted = api.statusCodeStats?.['202']?.count ?? 0;
    const apiRate = rateOf(api, '202');
    const bareRate = rateOf(baseline, '202');
    console.log(`POST /v1/items, ${CONNECTIONS} connections, ${USERS} users, ${DURATION_S} s each`);
    console.log(`  bare Express JSON   ${bareRate.toFixed(0).padStart(6)} req/s   p50 ${baseline.latency.p50} ms   p99 ${baseline.latency.p99} ms`);
    console.log(`  api-service accept  ${apiRate.toFixed(0).padStart(6)} req/s   p50 ${api.latency.p50} ms   p99 ${api.latency.p99} ms   (non-202: ${api.non2xx}, errors: ${api.errors})`);
    console.log(`  ratio ${((apiRate / bareRate) * 100).toFixed(1)} % of bare (target ≥ 25 %), p99 ${api.latency.p99} ms (target < 50 ms)`);
    const bareCount = baseline.statusCodeStats?.['202']?.count ?? 0;
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
