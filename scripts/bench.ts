// `npm run bench -- <name>…`: runs bench/<name>.ts for each name (all when none), after finding or
// starting PostgreSQL and Redis. Each benchmark prints its figures beside a raw baseline measured
// in the same run, so the ratio is what to read.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findOrStartInfra } from './infra';

async function main(): Promise<void> {
  const benchDir = join(__dirname, '..', 'bench');
  const available = readdirSync(benchDir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length) {
    console.error(`Unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
    process.exit(2);
  }
  // The benchmarks start services from their compiled dist/<name>/main.js.
  const { buildServices } = await import('./build-services.mjs');
  await buildServices();
  const infra = await findOrStartInfra();
  let failed = false;
  for (const name of wanted.length ? wanted : available) {
    console.log(`\n=== bench: ${name} ===`);
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(benchDir, `${name}.bench.ts`)], {
      stdio: 'inherit',
      env: { ...process.env, TEST_PG_URL: infra.pgServerUrl, REDIS_URL: infra.redisUrl, LOG_LEVEL: 'warn' },
    });
    failed ||= r.status !== 0;
  }
  await infra.stop();
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
