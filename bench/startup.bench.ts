// `npm run bench -- startup`: how long each service takes to start — spawn → its `ready <name>
// <port>` line — and the CPU time the process spent getting there (utime + stime from
// /proc/<pid>/stat at that moment, so it does not depend on what else the machine is doing).
// Three ways, measured in alternating rounds in the same run:
//   compiled — `node --enable-source-maps dist/<name>/main.js` (scripts/build-services.mjs), what
//              `npm start`, `npm test` and the image run;
//   tsx      — `node --import tsx services/<name>/src/main.ts`, how services started before (tsx's
//              transform cache is warm: a warm-up round runs first);
//   bare     — `node -e` printing a ready line: Node's own start, the floor.
// Median of BENCH_STARTUP_ROUNDS rounds (5) per service and way. Each service gets a fresh
// database and the test stack's environment; the URLs of the services it calls point nowhere
// (none is called before ready).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import globalSetup from '../libs/testing/src/global-setup';
import { createTestDatabase, serviceEntry, testRedisPrefix, testRedisUrl } from '../libs/testing/src';
import { SERVICE_NAMES } from '../libs/testing/src/stack';

const ROOT = join(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 5);
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const CLK_TCK = 100;

type Way = 'compiled' | 'tsx' | 'bare';
const WAYS: Way[] = ['compiled', 'tsx', 'bare'];

function argsFor(way: Way, name: string): string[] {
  if (way === 'compiled') return ['--enable-source-maps', serviceEntry(name)];
  if (way === 'tsx') return ['--import', 'tsx', join(ROOT, 'services', name, 'src', 'main.ts')];
  return ['-e', `process.stdout.write('ready ${name} 0\\n'); setInterval(() => {}, 1000)`];
}

/** CPU ms the process has used so far, or NaN where /proc is not there. */
function cpuMs(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 14th
    // field of the line, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

interface Sample {
  readyMs: number;
  cpuMs: number;
}

function startOnce(way: Way, name: string, env: Record<string, string>): Promise<Sample> {
  const started = performance.now();
  const child = spawn(process.execPath, argsFor(way, name), {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} (${way}) not ready in 60 s\n${stderr}`));
    }, 60_000);
    const exitedEarly = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} (${way}) exited with ${code} before ready\n${stderr}`));
    };
    child.once('exit', exitedEarly);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (!new RegExp(`^ready ${name} \\d+$`, 'm').test(buffer)) return;
      const sample = { readyMs: performance.now() - started, cpuMs: cpuMs(child.pid!) };
      clearTimeout(timer);
      child.off('exit', exitedEarly);
      child.stdout!.removeAllListeners('data');
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      void exited.then(() => {
        clearTimeout(force);
        resolve(sample);
      });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)}`.padStart(6) : '     -');

async function main(): Promise<void> {
  const loadAtStart = loadavg().map((l) => l.toFixed(1)).join(' ');
  await globalSetup();
  const db = await createTestDatabase();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: testRedisPrefix(),
    NODE_ENV: 'test',
    ADMIN_API_KEY: 'qv_admin_startup_bench_0000000000',
    LLM_PROVIDER: 'simulator',
    LLM_BASE_URL: 'http://127.0.0.1:9/v1',
    QUOTA_SERVICE_URL: 'http://127.0.0.1:9',
    CACHE_SERVICE_URL: 'http://127.0.0.1:9',
    DB_POOL_SIZE: '4',
  };
  const samples: Record<string, Record<Way, Sample[]>> = {};
  try {
    // Warm-up: tsx's transform cache, the OS page cache, PostgreSQL's first connections.
    for (const name of SERVICE_NAMES) for (const way of WAYS) await startOnce(way, name, env);
    process.stdout.write(`warm-up done; ${ROUNDS} rounds:`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of SERVICE_NAMES) {
        samples[name] ??= { compiled: [], tsx: [], bare: [] };
        for (const way of WAYS) samples[name][way].push(await startOnce(way, name, env));
      }
      process.stdout.write(` ${round + 1}`);
    }
    process.stdout.write('\n');
  } finally {
    await db.drop();
  }

  console.log(`\nstart → ready, median of ${ROUNDS} rounds (ms; cpu = the process' user + system time until ready)`);
  console.log(`machine: ${cpus().length} cores, load average ${loadAtStart} at the start, ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end\n`);
  console.log(`${'service'.padEnd(20)} ${'compiled'.padStart(6)} ${'cpu'.padStart(6)}   ${'tsx'.padStart(6)} ${'cpu'.padStart(6)}   ${'bare'.padStart(6)} ${'cpu'.padStart(6)}   speed-up`);
  let worst = 0;
  for (const name of SERVICE_NAMES) {
    const m = (way: Way, k: keyof Sample) => median(samples[name][way].map((s) => s[k]));
    worst = Math.max(worst, Math.max(...samples[name].compiled.map((s) => s.readyMs)));
    console.log(
      `${name.padEnd(20)} ${ms(m('compiled', 'readyMs'))} ${ms(m('compiled', 'cpuMs'))}   ${ms(m('tsx', 'readyMs'))} ${ms(m('tsx', 'cpuMs'))}   ${ms(m('bare', 'readyMs'))} ${ms(m('bare', 'cpuMs'))}   ${(m('tsx', 'readyMs') / m('compiled', 'readyMs')).toFixed(1)}×`,
    );
  }
  console.log(`\nslowest compiled start of any round: ${Math.round(worst)} ms (budget 2000 ms)`);
  if (worst >= 2000) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
