// `node --import tsx bench/support/start-profile.ts [service]`: starts one service (default
// api-service) beside the leaves it needs, with the CPU-profile preload, stops it once ready and
// prints the spawn → ready time; the profile lands in .run/prof/ (read it with cpu-profile-summary.mjs).
import globalSetup from '../../libs/testing/src/global-setup';
import { startStack, startService } from '../../libs/testing/src';
import { profileEnv } from './cpu';

async function main(): Promise<void> {
  process.env.BENCH_CPU_PROF = '1';
  const name = (process.argv[2] ?? 'api-service') as 'api-service';
  await globalSetup();
  const stack = await startStack({ skip: ['enrichment-worker', 'ledger-consumer', 'api-service'], env: { LOG_LEVEL: 'warn' } });
  try {
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      const service = await startService(name, { ...stack.envFor(name), LOG_LEVEL: 'warn', ...(round === 0 ? profileEnv() : {}) });
      console.log(`${name} ready in ${(performance.now() - t0).toFixed(0)} ms${round === 0 ? ' (profiled)' : ''}`);
      await service.stop(10_000);
    }
  } finally {
    await stack.stop();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
