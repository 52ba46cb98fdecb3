// `npm run bench -- gateway`: one OpenAI-compatible workload (POST /v1/chat/completions, unstreamed
// and streamed, 64 clients, a fresh prompt per request) against the llm-simulator directly, through
// Quota Vault (an exact charge, a cache look-up and fill, the usage event that settles and writes
// the ledger — per call) and through Portkey's open-source gateway (@portkey-ai/gateway, a plain
// proxy here), all in one run. Prints requests/s, the latency each path adds over the direct one
// at p50 and p99, and Quota Vault's CPU-ms per request per process (from /proc/<pid>/stat).
// BENCH_QV_CACHE (default `content`) is the X-QV-Cache header Quota Vault's calls carry; `off`
// measures the path without its cache (the charge and the ledger entry alone).
// The three paths run in turns (BENCH_ROUNDS rounds of BENCH_DURATION_S seconds per path, each
// round starting with the next path), so a change in the shared machine's load falls on all three
// alike; each figure is the median over the rounds, and the added latency is taken within a round.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createUser, eventually, freePort, startStack, testRedisUrl, type Stack } from '../libs/testing/src';
import globalSetup from '../libs/testing/src/global-setup';
import { load, type HttpRequestSpec, type HttpResult } from './support/autocannon';
import { createRedis } from '@qv/queue';
import { CpuWindow, processCpuMs, profileEnv, syscalls } from './support/cpu';
import { median } from './support/median';
import { productionPools } from './support/production-pools';

const CONNECTIONS = 64;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const USERS = 64;
const QV_CACHE = process.env.BENCH_QV_CACHE ?? 'content';
const QV_PROCESSES = ['api-service', 'quota-service', 'cache-service', 'ledger-consumer'] as const;
/** CPU ms of a process still running (bench/support/cpu.ts reads /proc). */
const cpuMs = (pid: number): number => processCpuMs(pid) ?? 0;
/** System calls of the processes named, added into `into` as they grow over `run` (socket reads and writes, mostly: what a call costs the kernel). */
async function countSyscalls<T>(processes: { name: string; pid: number }[], into: Record<string, { reads: number; writes: number }>, run: () => Promise<T>): Promise<T> {
  const before = processes.map(({ pid }) => syscalls(pid));
  const result = await run();
  processes.forEach(({ name, pid }, i) => {
    const [start, end] = [before[i], syscalls(pid)];
    if (!start || !end) return;
    const sum = (into[name] ??= { reads: 0, writes: 0 });
    sum.reads += end.reads - start.reads;
    sum.writes += end.writes - start.writes;
  });
  return result;
}
/** `name w writes · r reads` per answered request. */
const perCall = (counts: Record<string, { reads: number; writes: number }>, answered: number) =>
  Object.entries(counts)
    .map(([name, { reads, writes }]) => `${name} ${(writes / Math.max(1, answered)).toFixed(1)} writes · ${(reads / Math.max(1, answered)).toFixed(1)} reads`)
    .join(', ');

/**
 * Portkey's gateway as its README starts it (headless: no UI, no log stream), ready when it answers
 * GET /. package.json pins its @hono/node-server to 1.13.8: with the 1.19 npm resolves otherwise,
 * every streamed answer is a 500 (its lightweight Response keeps the upstream fetch's immutable
 * headers, and the gateway appends to them).
 */
async function startPortkey(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const entry = join(__dirname, '..', 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const child = spawn(process.execPath, [entry, `--port=${port}`, '--headless'], { stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(url).then((r) => r.text()).catch(() => '')).includes('AI Gateway'), 20_000, 100);
  return { url, child };
}

let sequence = 0;
/** A prompt never sent before, so no path can answer from a cache (Quota Vault still looks up and fills its own). */
const chatBody = (stream: boolean) =>
  JSON.stringify({
    model: 'sim-1',
    messages: [{ role: 'user', content: `Request ${sequence++}: a benchmark prompt of ordinary length, answered by the simulator with a short echo of it.` }],
    max_tokens: 64,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

function workload(stream: boolean, headersFor: () => Record<string, string>): HttpRequestSpec[] {
  return [
    {
      method: 'POST',
      path: '/v1/chat/completions',
      setupRequest: (req) => ({ ...req, body: chatBody(stream), headers: { 'content-type': 'application/json', ...headersFor() } }),
    },
  ];
}

/** `total (services s: name a.b, …; postgres p, redis r)` per request. */
function perRequest(cpu: Record<string, number>, answered: number): string {
  const per = (ms: number) => (ms / Math.max(1, answered)).toFixed(2);
  const services = QV_PROCESSES.map((name) => `${name} ${per(cpu[name] ?? 0)}`).join(', ');
  const servicesMs = QV_PROCESSES.reduce((sum, name) => sum + (cpu[name] ?? 0), 0);
  const total = servicesMs + (cpu.postgres ?? 0) + (cpu.redis ?? 0);
  return `${per(total)} (services ${per(servicesMs)}: ${services}; PostgreSQL ${per(cpu.postgres ?? 0)}, Redis ${per(cpu.redis ?? 0)})`;
}

interface Measured {
  path: string;
  result: HttpResult;
  ok: number;
}

const rate = (m: Measured) => m.ok / m.result.duration;

async function measure(path: string, url: string, requests: HttpRequestSpec[]): Promise<Measured> {
  const result = await load(url, CONNECTIONS, DURATION_S, requests);
  const ok = Object.entries(result.statusCodeStats ?? {}).reduce((sum, [status, s]) => sum + (status.startsWith('2') ? s.count : 0), 0);
  return { path, result, ok };
}

/** One path's rounds: medians of its rate and latencies, and of what it added over direct in the same round. */
function report(title: string, rounds: Array<Record<string, Measured>>, paths: string[]): void {
  console.log(`\n${title}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_S} s per path (medians over the rounds)`);
  console.log(`  ${'path'.padEnd(28)} ${'req/s'.padStart(7)} ${'p50'.padStart(6)} ${'p99'.padStart(6)}   added p50 / p99 over direct   non-2xx errors`);
  const [direct, ...others] = paths;
  for (const path of paths) {
    const of = (f: (m: Measured, round: Record<string, Measured>) => number) => median(rounds.map((round) => f(round[path], round)));
    const added = path === direct ? '' : `+${of((m, r) => m.result.latency.p50 - r[direct].result.latency.p50)} ms / +${of((m, r) => m.result.latency.p99 - r[direct].result.latency.p99)} ms`;
    const sum = (f: (m: Measured) => number) => rounds.reduce((total, round) => total + f(round[path]), 0);
    console.log(
      `  ${path.padEnd(28)} ${of(rate).toFixed(0).padStart(7)} ${`${of((m) => m.result.latency.p50)}ms`.padStart(6)} ${`${of((m) => m.result.latency.p99)}ms`.padStart(6)}   ${added.padEnd(29)} ${String(sum((m) => m.result.non2xx)).padStart(7)} ${String(sum((m) => m.result.errors + m.result.timeouts)).padStart(6)}`,
    );
  }
  const [qv, pk] = others;
  const ahead = rounds.filter((round) => rate(round[qv]) > rate(round[pk])).length;
  console.log(`  rounds by rate: ${rounds.map((round) => others.map((path) => rate(round[path]).toFixed(0)).join(' vs ')).join(' · ')}; Quota Vault ahead of Portkey in ${ahead} of ${rounds.length}`);
}

async function main(): Promise<void> {
  await globalSetup();
  const stack: Stack = await startStack({ skip: ['enrichment-worker'], env: { LOG_LEVEL: 'warn', ...profileEnv() }, serviceEnv: productionPools() });
  const portkey = await startPortkey();
  console.log(`${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)} at the start (the machine is shared: read the ratios); Quota Vault's calls with X-QV-Cache: ${QV_CACHE}`);
  try {
    const sim = stack.services['llm-simulator']!.url;
    const unlimited = { concurrentJobs: null, callsPerHour: null, enrichmentsPerDay: null, tokensPerDay: null, tokensPerMonth: null };
    const keys: string[] = [];
    for (let i = 0; i < USERS; i++) keys.push((await createUser(stack.api, stack.adminKey, 'pro_annual', unlimited)).key);
    let next = 0;
    const viaQv = () => ({ authorization: `Bearer ${keys[next++ % keys.length]}`, 'x-qv-cache': QV_CACHE });
    const viaPortkey = () => ({ authorization: 'Bearer bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${sim}/v1` });
    const direct = () => ({ authorization: 'Bearer bench' });

    // Quota Vault's CPU is its services' and what they make PostgreSQL (this run's database's
    // backends, the bench's own left out) and Redis (the whole server) do; Portkey's is its process.
    const redis = createRedis(testRedisUrl());
    const [{ pid: benchBackend }] = await stack.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const services = () => QV_PROCESSES.map((name) => ({ name, pid: stack.services[name]!.pid }));
    const cpu: Record<string, number> = {};
    let qvAnswered = 0;
    for (const stream of [false, true]) {
      const title = stream ? 'streamed (stream: true, usage in the last chunk)' : 'unstreamed';
      // Warm-up of every path (JIT, keep-alive sockets, PostgreSQL plans).
      await load(sim, CONNECTIONS, 2, workload(stream, direct));
      await load(stack.api, CONNECTIONS, 2, workload(stream, viaQv));
      await load(portkey.url, CONNECTIONS, 2, workload(stream, viaPortkey));

      const PORTKEY = 'Portkey gateway 1.15.2';
      const paths = ['llm-simulator direct', 'Quota Vault', PORTKEY];
      const runs: Record<string, () => Promise<Measured>> = {
        'llm-simulator direct': () => measure(paths[0], sim, workload(stream, direct)),
        'Quota Vault': async () => {
          const window = new CpuWindow(services, stack.db.name, redis, benchBackend, [benchBackend]);
          await window.start();
          const m = await countSyscalls(services(), qvCalls, async () => {
            const measured = await measure(paths[1], stack.api, workload(stream, viaQv));
            // The settlements and cache fills of the round's last calls end after it: their CPU belongs to these requests too.
            await new Promise((resolve) => setTimeout(resolve, 3000));
            return measured;
          });
          for (const [name, ms] of Object.entries((await window.stop()).cpu)) spent[name] = (spent[name] ?? 0) + ms;
          return m;
        },
        [PORTKEY]: async () => {
          const before = cpuMs(portkey.child.pid!);
          const m = await countSyscalls([{ name: 'Portkey', pid: portkey.child.pid! }], portkeyCalls, () => measure(PORTKEY, portkey.url, workload(stream, viaPortkey)));
          portkeySpent += cpuMs(portkey.child.pid!) - before;
          return m;
        },
      };
      const spent: Record<string, number> = {};
      let portkeySpent = 0;
      const qvCalls: Record<string, { reads: number; writes: number }> = {};
      const portkeyCalls: Record<string, { reads: number; writes: number }> = {};
      const rounds: Array<Record<string, Measured>> = [];
      for (let r = 0; r < ROUNDS; r++) {
        const round: Record<string, Measured> = {};
        for (let i = 0; i < paths.length; i++) {
          const path = paths[(r + i) % paths.length];
          round[path] = await runs[path]();
        }
        rounds.push(round);
      }
      for (const [name, ms] of Object.entries(spent)) cpu[name] = (cpu[name] ?? 0) + ms;
      report(title, rounds, paths);
      const answered = (path: string) => rounds.reduce((sum, round) => sum + round[path].ok, 0);
      const qvOk = answered('Quota Vault');
      console.log(`  CPU-ms per answered request: Quota Vault ${perRequest(spent, qvOk)}; Portkey ${(portkeySpent / Math.max(1, answered(PORTKEY))).toFixed(2)}`);
      console.log(`  system calls per answered request: Quota Vault ${perCall(qvCalls, qvOk)}; ${perCall(portkeyCalls, answered(PORTKEY))}`);
      qvAnswered += qvOk;
    }
    console.log(`\nQuota Vault CPU-ms per answered request, both runs: ${perRequest(cpu, qvAnswered)}`);
    redis.disconnect();

    // Every answered call ends as exactly one ledger entry (warm-ups included).
    const entries = await eventually(async () => {
      const [row] = await stack.db.query<{ n: string; reserved: string }>(`SELECT (SELECT count(*) FROM ai_usage_ledger WHERE item_id LIKE 'chc_%') AS n, (SELECT count(*) FROM ai_usage_reservations WHERE status = 'RESERVED') AS reserved`);
      return Number(row.reserved) === 0 ? Number(row.n) : undefined;
    }, 120_000, 500);
    const [calls] = await stack.db.query<{ n: string }>(`SELECT count(*) AS n FROM ai_usage_reservations WHERE item_id LIKE 'chc_%'`);
    console.log(`load average ${loadavg()[0].toFixed(1)} at the end`);
    console.log(`ledger: ${entries} chat entries for ${calls.n} charged calls (warm-ups included), none left reserved`);
  } finally {
    portkey.child.kill('SIGTERM');
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
