// `npm run bench -- burst`: one key's burst beside another user's trickle (issue 12, item 2).
// Per round: user B's sequential POST /v1/items alone, then again while a fresh user A (20
// enrichments left) sends BENCH_BURST concurrent ones (default 10,000) from a process of its own.
// Prints B's p50/p90/p99 alone and during, the ratio of the p99s (aim ≤ 2), A's answers, and the CPU
// ms each of A's requests cost api-service, quota-service, PostgreSQL, Redis and the burst client.
import { createRedis } from '@qv/queue';
import { createUser, startStack, testRedisUrl } from '../libs/testing/src';
import globalSetup from '../libs/testing/src/global-setup';
import { burst, outcomes, percentile, spread, trickle } from '../e2e/support/burst';
import { CpuWindow, formatPerItem, profileEnv } from './support/cpu';
import { productionPools } from './support/production-pools';

const BURST = Number(process.env.BENCH_BURST ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  await globalSetup();
  const stack = await startStack({ skip: ['enrichment-worker', 'ledger-consumer', 'llm-simulator', 'cache-service'], env: {
      LOG_LEVEL: 'warn',
      ...profileEnv(),
      // The services' own defaults (their config.ts), in place of the test stack's patient ones.
      ACCEPT_ADMISSION_WAIT_MS: '1500',
      CHARGE_ADMISSION_WAIT_MS: '1000',
      QUOTA_TIMEOUT_MS: '2000',
    }, serviceEnv: productionPools() });
  const redis = createRedis(testRedisUrl());
  try {
    const services = () => Object.values(stack.services).map((p) => ({ name: p!.name, pid: p!.pid }));
    const [{ pid: benchBackend }] = await stack.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const b = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: null, concurrentJobs: null, callsPerHour: null, tokensPerDay: null, tokensPerMonth: null });
    await trickle(stack.api, b.key, 20); // warm-up
    console.log(`${BURST} concurrent POST /v1/items of one user (20 enrichments left) beside another user's sequential ones, ${ROUNDS} rounds`);
    const ratios: number[] = [];
    const api = stack.services['api-service']!;
    const apiMetrics = () => fetch(`${api.opsUrl}/metrics`, { headers: stack.as('metrics') }).then((r) => r.text());
    for (let round = 1; round <= ROUNDS; round++) {
      const a = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: 20, concurrentJobs: null });
      const alone = await trickle(stack.api, b.key, 60);
      const window = new CpuWindow(services, stack.db.name, redis, benchBackend);
      await window.start();
      await apiMetrics(); // resets the event loop's maximum delay
      const burstAt = performance.now();
      const sent = burst(stack.api, a.key, BURST);
      const during = await trickle(stack.api, b.key, sent.then(() => undefined, () => undefined));
      const { cpu } = await window.stop();
      const { answers, cpuMs: clientMs } = await sent;
      const byOutcome = outcomes(answers);
      const ratio = percentile(during.latencies, 99) / percentile(alone.latencies, 99);
      ratios.push(ratio);
      const failed = during.statuses.filter((s) => s !== 202).length;
      console.log(`  round ${round}: B alone ${spread(alone.latencies)} ms; during ${spread(during.latencies)} ms (${during.latencies.length} requests, ${failed} not 202): p99 ${ratio.toFixed(2)}× alone (aim ≤ 2)`);
      console.log(`    A: ${JSON.stringify(byOutcome)}`);
      const slowest = during.latencies.map((ms, i) => ({ ms, at: during.sentAt[i] - burstAt })).sort((x, y) => y.ms - x.ms).slice(0, 5);
      console.log(`    B's slowest: ${slowest.map((x) => `${x.ms.toFixed(0)} ms sent at +${x.at.toFixed(0)} ms`).join(', ')}; the burst took ${(performance.now() - burstAt).toFixed(0)} ms`);
      const metrics = await apiMetrics();
      const lagMax = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)/m.exec(metrics)?.[1];
      const slow202 = [...metrics.matchAll(/^http_request_duration_seconds_bucket\{[^}]*le="(1|2\.5|\+Inf)"[^}]*route="\/v1\/items"[^}]*status="202"[^}]*\} (\d+)/gm)].map((m) => `≤${m[1]} s: ${m[2]}`);
      console.log(`    api-service: event loop's longest delay ${lagMax ? (Number(lagMax) * 1000).toFixed(0) : '?'} ms; 202s by duration (cumulative) ${slow202.join(', ')}`);
      console.log(`    CPU ms per A request: ${formatPerItem(cpu, BURST)}; the burst client ${(clientMs / BURST).toFixed(3)}`);
    }
    console.log(`  B's p99 during ÷ alone, median of ${ROUNDS}: ${percentile(ratios, 50).toFixed(2)}×`);
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
