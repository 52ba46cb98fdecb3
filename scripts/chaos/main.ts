// `npm run chaos`: a bounded soak of the whole stack with replicas and faults (CHAOS_SECONDS, default
// 300), then the invariants from the data in one table; exits 1 on any violation.
// `npm run chaos -- exactness`: 10,000 concurrent charges for one user with 50 left over 3
// quota-service replicas, for each of the five limits (CHAOS_CHARGES, CHAOS_GATES=default,open).
import { runExactness, type GateName } from './exactness';
import { runSoak } from './soak';

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(raw)})`);
  return n;
};

/** The shared server is used only where initdb is missing, for a fresh database of the run's own. */
const fallbackPgServerUrl = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'soak';
  // The services run from their compiled bundles; an ES module, so imported at run time (as bench.ts does).
  const { buildServices } = await import('../build-services.mjs');
  await buildServices();
  if (mode === 'exactness') {
    const gates = (process.env.CHAOS_GATES ?? 'default,open').split(',') as GateName[];
    const result = await runExactness({ charges: num('CHAOS_CHARGES', 10_000), left: num('CHAOS_LEFT', 50), gates, fallbackPgServerUrl });
    console.log(`\n${result.table}`);
    for (const v of result.violations) console.log(`✖ ${v}`);
    process.exit(result.violations.length ? 1 : 0);
  }
  if (mode !== 'soak') {
    console.error(`unknown mode ${mode}: npm run chaos [-- exactness]`);
    process.exit(2);
  }
  const seconds = num('CHAOS_SECONDS', 300);
  const result = await runSoak({
    seconds,
    clients: num('CHAOS_CLIENTS', 8),
    usersPerPlan: num('CHAOS_USERS_PER_PLAN', 6),
    drainSeconds: num('CHAOS_DRAIN_SECONDS', 180),
    skipDrain: process.env.CHAOS_SKIP_DRAIN === '1',
    llmFaults: process.env.CHAOS_LLM_FAULTS !== '0',
    fallbackPgServerUrl,
  });
  console.log(`\n${result.table}`);
  for (const v of result.violations) console.log(`✖ ${v}`);
  process.exit(result.violations.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
