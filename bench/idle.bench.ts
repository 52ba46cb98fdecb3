// `npm run bench -- idle`: what the stack costs when nothing happens. Every service as a process,
// with its production periods for the sweeps and the relay (the tests shorten them), measured for
// BENCH_IDLE_S seconds (default 20) after a settling pause: CPU ms per second of each process, of
// the PostgreSQL backends of the stack's database and of Redis, beside a bare Node process
// listening on a port, idle in the same window (the floor of any service here).
import { spawn } from 'node:child_process';
import { createRedis } from '@qv/queue';
import { startStack, testRedisUrl } from '../libs/testing/src';
import globalSetup from '../libs/testing/src/global-setup';
import { configSchema as apiConfig } from '../services/api-service/src/config';
import { configSchema as workerConfig } from '../services/enrichment-worker/src/config';
import { configSchema as ledgerConfig } from '../services/ledger-consumer/src/config';
import { CpuWindow, formatPerItem, ProcessesCpu } from './support/cpu';

const SECONDS = Number(process.env.BENCH_IDLE_S ?? 20);

/** The production defaults of the periods the test stack shortens. */
const productionPeriods = (): Record<string, string> => ({
  SWEEP_INTERVAL_MS: String(ledgerConfig.shape.SWEEP_INTERVAL_MS.parse(undefined)),
  DEAD_LETTER_SWEEP_MS: String(workerConfig.shape.DEAD_LETTER_SWEEP_MS.parse(undefined)),
  OUTBOX_RELAY_INTERVAL_MS: String(apiConfig.shape.OUTBOX_RELAY_INTERVAL_MS.parse(undefined)),
  OUTBOX_RELAY_GRACE_MS: String(apiConfig.shape.OUTBOX_RELAY_GRACE_MS.parse(undefined)),
});

async function main(): Promise<void> {
  await globalSetup();
  const periods = productionPeriods();
  const stack = await startStack({ env: { LOG_LEVEL: 'warn', ...periods } });
  const bare = spawn(process.execPath, ['-e', "require('node:http').createServer().listen(0, '127.0.0.1')"], { stdio: 'ignore' });
  const redis = createRedis(testRedisUrl());
  try {
    const services = () => Object.values(stack.services).map((p) => ({ name: p!.name, pid: p!.pid }));
    const [{ pid: benchBackend }] = await stack.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await new Promise((r) => setTimeout(r, 5000)); // start-up work (warms, first sweeps) done
    const window = new CpuWindow(services, stack.db.name, redis, benchBackend, [benchBackend]);
    const bareCpu = new ProcessesCpu(() => [{ name: 'bare node', pid: bare.pid! }]);
    await window.start();
    bareCpu.start();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const { cpu } = await window.stop();
    const floor = bareCpu.stop()['bare node'] / SECONDS;
    console.log(`idle for ${SECONDS} s, production periods (${Object.entries(periods).map(([k, v]) => `${k}=${v}`).join(', ')})`);
    console.log(`  CPU ms per second: ${formatPerItem(cpu, SECONDS).replace(/ ms\/item$/, ' ms/s')}`);
    console.log(`  a bare Node process listening on a port: ${floor.toFixed(2)} ms/s`);
  } finally {
    redis.disconnect();
    bare.kill();
    await stack.stop();
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
