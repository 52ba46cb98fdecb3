// `npm run bench -- pipeline`: items per second through the whole pipeline (POST /v1/items →
// charge → item + outbox → BullMQ → enrichment-worker (cache lookup, LLM, item DONE, the usage
// event applied: ledger row; ledger-consumer only for what it could not apply), with the simulator
// answering at 0 ms and at 200 ms, for 1, 2
// and 4 worker processes; beside raw BullMQ no-op throughput measured in the same run.
//
// Each case starts its own workers and first sends them a warm-up, measured by nothing
// (BENCH_WARMUP_ITEMS_PER_WORKER at 0 ms; at 200 ms a second's worth, or BENCH_WARMUP_ITEMS_AT_LATENCY):
// a process' first few hundred items pay for its JIT compilation. At 0 ms a 500-item sample after
// 300 such items measured 3.2 CPU ms per item where 2,000 after them measured 1.9 (the simulator
// 0.53 against 0.28 ms for the same calls).
//
// Two figures per case:
//   end to end — items POSTed (16 concurrent clients) while the workers run; first POST → last
//                ledger row. Bounded by the slowest stage, the api-service included.
//   drain      — the same number of items accepted while the queue is paused, then resumed;
//                resume → last ledger row. What the workers (and the ledger behind them) sustain.
// At 200 ms the ideal is workers × QUEUE_CONCURRENCY ÷ (0.2 s × the tasks per item, one LLM call each;
// BENCH_TASKS, default summarize alone).
//
// CPU per item (bench/support/cpu.ts): each service process's user + system time over the window,
// PostgreSQL's backends of the run's database and Redis's server, in ms per item; the raw baseline's
// the same way (the bench process, which runs its Queue and Worker, plus Redis). Each service's
// resident set (VmRSS) at the end of each case. BENCH_CPU_PROF=1 writes a V8 CPU profile of every
// service to .run/prof/ when it stops.
import { randomBytes } from 'node:crypto';
import { QUEUE_NAMES } from '@qv/contracts';
import { bullPrefix, createRedis } from '@qv/queue';
import { Queue, Worker } from 'bullmq';
import { Client } from 'pg';
import globalSetup from '../libs/testing/src/global-setup';
import { createUser, http, startService, startStack, testRedisUrl, type ServiceProcess, type Stack } from '../libs/testing/src';
import { CpuWindow, formatPerItem, formatResident, profileEnv, redisCpuMs } from './support/cpu';

const CONCURRENCY = Number(process.env.BENCH_QUEUE_CONCURRENCY ?? 8);
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const LATENCIES = (process.env.BENCH_LATENCIES ?? '0,200').split(',').map(Number);
const PROFILE_ENV = profileEnv();
/** Seconds of work each case is sized for at its ideal rate. */
const TARGET_S = Number(process.env.BENCH_TARGET_S ?? 2);
const MAX_ITEMS = Number(process.env.BENCH_MAX_ITEMS ?? 320);
/** The same cap at 0 ms, where a case is CPU-bound and its sample must be long enough to be steady. */
const MAX_ITEMS_0MS = Number(process.env.BENCH_MAX_ITEMS_0MS ?? 4000);
const CLIENTS = 16;
/** The tasks of every item (comma-separated); each is one LLM call. */
const TASKS = (process.env.BENCH_TASKS ?? 'summarize').split(',');
/** Items per worker at 0 ms LLM latency (more: steadier CPU figures, longer run). */
const ITEMS_PER_WORKER_0MS = Number(process.env.BENCH_ITEMS_PER_WORKER ?? 1000);
/** Items each worker enriches before anything is measured, at 0 ms (at 200 ms: one second's worth). */
const WARMUP_ITEMS_PER_WORKER = Number(process.env.BENCH_WARMUP_ITEMS_PER_WORKER ?? 1000);
/** Items of the warm-up of a case with LLM latency (default: one second's worth at the ideal rate). */
const WARMUP_ITEMS_AT_LATENCY = process.env.BENCH_WARMUP_ITEMS_AT_LATENCY ? Number(process.env.BENCH_WARMUP_ITEMS_AT_LATENCY) : undefined;
const RAW_JOBS = 3000;
/** How long the idle stack is measured before each case. */
const IDLE_MS = 3000;

interface Case {
  latencyMs: number;
  workers: number;
  items: number;
  acceptPerS: number;
  e2ePerS: number;
  drainPerS: number;
  /** Drain measured to the last item DONE (the workers alone, without the ledger behind them). */
  workerPerS: number;
  /** CPU ms per item over the end-to-end window (accept and process), by process. */
  e2eCpu: Record<string, number>;
  /** CPU ms per item over the drain window (the workers' side only), by process. */
  drainCpu: Record<string, number>;
  /** The same, less what the idle stack burns in as long a time. */
  e2eNet: Record<string, number>;
  drainNet: Record<string, number>;
  /** CPU ms per second of the idle stack, by process. */
  idlePerS: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '∞');

/** Raw BullMQ: a Queue and a Worker with an empty processor, jobs added in bulk, all completed. */
async function rawBullmq(jobs: number, concurrency: number): Promise<{ perS: number; cpuMsPerJob: Record<string, number> }> {
  const connection = createRedis(testRedisUrl());
  const prefix = `bench-raw-${randomBytes(4).toString('hex')}`;
  const name = 'noop';
  const queue = new Queue(name, { connection, prefix });
  await queue.pause();
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i }, opts: { removeOnComplete: true } })));
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((r) => (finished = r));
  const workerConnection = createRedis(testRedisUrl());
  const worker = new Worker(name, async () => undefined, { connection: workerConnection, prefix, concurrency });
  worker.on('completed', () => {
    if (++done === jobs) finished();
  });
  await worker.waitUntilReady();
  const redisAtStart = await redisCpuMs(connection);
  const cpuAtStart = process.cpuUsage();
  const start = performance.now();
  await queue.resume();
  await allDone;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const redisMs = (await redisCpuMs(connection)) - redisAtStart;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  return { perS: jobs / seconds, cpuMsPerJob: { 'bench (queue + worker)': (cpu.user + cpu.system) / 1000 / jobs, redis: redisMs / jobs } };
}

async function main(): Promise<void> {
  await globalSetup();
  console.log(`QUEUE_CONCURRENCY=${CONCURRENCY}, ${CLIENTS} POST clients, tasks ${TASKS.join(', ')} (one LLM call each) per item, enterprise user`);

  const rawRun = await rawBullmq(RAW_JOBS, CONCURRENCY);
  const raw = rawRun.perS;
  console.log(`raw BullMQ no-op: ${RAW_JOBS} jobs, concurrency ${CONCURRENCY}: ${raw.toFixed(0)} jobs/s; CPU ${formatPerItem(rawRun.cpuMsPerJob, 1)}`);

  // Small pools: the machine's PostgreSQL is shared (max_connections), and 8 jobs need few connections.
  const stack: Stack = await startStack({ env: { LOG_LEVEL: 'warn', DB_POOL_SIZE: '6', ...PROFILE_ENV }, skip: ['enrichment-worker'] });
  const extra: ServiceProcess[] = [];
  const redis = createRedis(testRedisUrl());
  const running = () => [...Object.values(stack.services), ...extra].filter((p) => p!.child.exitCode === null).map((p) => ({ name: p!.name, pid: p!.pid }));
  // The bench polls for progress on a connection of its own, left out of PostgreSQL's figure.
  const poller = new Client({ connectionString: stack.db.url });
  await poller.connect();
  const pollerPid = (await poller.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const count = async (sql: string, params: unknown[]) => (await poller.query<{ n: number }>(sql, params)).rows[0].n;
  const window = new CpuWindow(running, stack.db.name, redis, pollerPid, [pollerPid]);
  const perItem = (cpu: Record<string, number>, items: number) => Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / items]));
  const queue = new Queue(QUEUE_NAMES.enrichment, { connection: redis, prefix: bullPrefix(stack.redisPrefix) });
  const cases: Case[] = [];
  try {
    const simulators: Record<number, string> = { 0: stack.services['llm-simulator']!.url };
    const slow = await startService('llm-simulator', { ...stack.envFor('llm-simulator'), LOG_LEVEL: 'warn', SIM_LATENCY_MS: '200', ...PROFILE_ENV });
    extra.push(slow);
    simulators[200] = slow.url;
    const user = await createUser(stack.api, stack.adminKey, 'enterprise', { concurrentJobs: 1_000_000 });
    let seq = 0;
    let refused = 0;

    const ledgerRows = () => count(`SELECT count(*)::int AS n FROM ai_usage_ledger WHERE user_id = $1`, [user.id]);
    const postItems = async (count: number) => {
      let next = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (next < count) {
          next++;
          const n = seq++;
          for (let attempt = 1; ; attempt++) {
            const res = await http('POST', `${stack.api}/v1/items`, {
              key: user.key,
              body: { content: `Benchmark document ${n}: the pipeline charges, stores, queues and enriches it; item ${n} is unique so no cache hit.`, tasks: TASKS },
            });
            if (res.status === 202) break;
            // A starved machine can make the charge miss QUOTA_TIMEOUT_MS (503, fail closed), or queue one
            // user's charges past the admission wait (429): count it, retry.
            if ((res.status !== 503 && res.status !== 429) || attempt === 5) throw new Error(`POST /v1/items → ${res.status} ${JSON.stringify(res.body)}`);
            refused++;
            await sleep(100 * attempt);
          }
        }
      }));
    };
    const doneItems = () => count(`SELECT count(*)::int AS n FROM items WHERE user_id = $1 AND status = 'DONE'`, [user.id]);
    /** When the items were all DONE (the workers' part) and when their ledger rows were all in. */
    const waitForLedger = async (target: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      let doneAt = 0;
      for (;;) {
        const [done, rows] = await Promise.all([doneAt ? target : doneItems(), ledgerRows()]);
        if (!doneAt && done >= target) doneAt = performance.now();
        if (rows >= target) return { doneAt: doneAt || performance.now(), ledgerAt: performance.now() };
        if (Date.now() > deadline) throw new Error(`ledger did not reach ${target} rows in ${timeoutMs} ms`);
        await sleep(20);
      }
    };

    for (const latencyMs of LATENCIES) {
      for (const workers of WORKER_COUNTS) {
        const ideal = latencyMs ? (workers * CONCURRENCY * 1000) / (latencyMs * TASKS.length) : Infinity;
        const items = latencyMs ? Math.min(MAX_ITEMS, Math.round(ideal * TARGET_S)) : Math.min(MAX_ITEMS_0MS, ITEMS_PER_WORKER_0MS * workers);
        const warmUp = latencyMs ? (WARMUP_ITEMS_AT_LATENCY ?? Math.round(ideal)) : WARMUP_ITEMS_PER_WORKER * workers;
        const procs = await Promise.all(Array.from({ length: workers }, () =>
          startService('enrichment-worker', { ...stack.envFor('enrichment-worker'), LOG_LEVEL: 'warn', LLM_BASE_URL: `${simulators[latencyMs]}/v1`, QUEUE_CONCURRENCY: String(CONCURRENCY), ...PROFILE_ENV }),
        ));
        extra.push(...procs);
        try {
          const beforeWarmUp = await ledgerRows();
          await postItems(warmUp);
          await waitForLedger(beforeWarmUp + warmUp, 120_000);
          // What the stack burns doing nothing (sweeps, relays, timers), subtracted below as "net".
          await window.start();
          const idleFrom = performance.now();
          await sleep(IDLE_MS);
          const idlePerMs = Object.fromEntries(Object.entries((await window.stop()).cpu).map(([k, v]) => [k, v / (performance.now() - idleFrom)]));
          const net = (cpu: Record<string, number>, ms: number) => Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v - (idlePerMs[k] ?? 0) * ms]));

          // End to end: POST while the workers run.
          let base = await ledgerRows();
          await window.start();
          const t0 = performance.now();
          await postItems(items);
          const accepted = performance.now();
          const e2eEnd = (await waitForLedger(base + items, 120_000)).ledgerAt;
          const e2eCpu = (await window.stop()).cpu;

          // Drain: accept with the queue paused, then let the workers at it.
          base = await ledgerRows();
          const baseDone = await doneItems();
          if (baseDone !== base) throw new Error(`items DONE ${baseDone} ≠ ledger rows ${base}`);
          await queue.pause();
          await postItems(items);
          await window.start();
          const resumed = performance.now();
          await queue.resume();
          const drained = await waitForLedger(base + items, 120_000);
          const drainEnd = drained.ledgerAt;
          const drainCpu = (await window.stop()).cpu;

          cases.push({
            latencyMs,
            workers,
            items,
            acceptPerS: items / ((accepted - t0) / 1000),
            e2ePerS: items / ((e2eEnd - t0) / 1000),
            drainPerS: items / ((drainEnd - resumed) / 1000),
            workerPerS: items / ((drained.doneAt - resumed) / 1000),
            e2eCpu: perItem(e2eCpu, items),
            drainCpu: perItem(drainCpu, items),
            e2eNet: perItem(net(e2eCpu, e2eEnd - t0), items),
            drainNet: perItem(net(drainCpu, drainEnd - resumed), items),
            idlePerS: Object.fromEntries(Object.entries(idlePerMs).map(([k, v]) => [k, v * 1000])),
          });
          const c = cases[cases.length - 1];
          console.log(`  sim ${latencyMs} ms, ${workers} worker(s), ${items} items: accept ${fmt(c.acceptPerS)}/s, end to end ${fmt(c.e2ePerS)}/s, drain ${fmt(c.drainPerS)}/s (all DONE at ${fmt(c.workerPerS)}/s)${refused ? ` (${refused} POSTs retried after 503 so far)` : ''}`);
          console.log(`    CPU ms/s, idle:                ${formatPerItem(c.idlePerS, 1).replace('ms/item', 'ms/s')}`);
          console.log(`    CPU ms/item, end to end:       ${formatPerItem(c.e2eCpu, 1)}`);
          console.log(`    CPU ms/item, end to end, net:  ${formatPerItem(c.e2eNet, 1)}`);
          console.log(`    CPU ms/item, drain:            ${formatPerItem(c.drainCpu, 1)}`);
          console.log(`    CPU ms/item, drain, net:       ${formatPerItem(c.drainNet, 1)}`);
          console.log(`    resident: ${formatResident(running())}`);
        } finally {
          await Promise.all(procs.map((p) => p.stop(5000)));
        }
      }
    }
  } finally {
    await poller.end();
    await queue.close();
    redis.disconnect();
    await Promise.all(extra.map((p) => p.stop(5000)));
    await stack.stop();
  }

  console.log('\nlatency  workers  items   ideal/s  e2e/s   e2e %ideal  drain/s  drain %ideal  DONE/s  DONE %ideal  accept/s');
  for (const c of cases) {
    const ideal = c.latencyMs ? (c.workers * CONCURRENCY * 1000) / (c.latencyMs * TASKS.length) : Infinity;
    const pct = (x: number) => (Number.isFinite(ideal) ? `${((100 * x) / ideal).toFixed(0)} %` : '—');
    console.log(
      `${String(c.latencyMs).padStart(4)} ms  ${String(c.workers).padStart(7)}  ${String(c.items).padStart(5)}  ${fmt(ideal).padStart(8)}  ${fmt(c.e2ePerS).padStart(6)}  ${pct(c.e2ePerS).padStart(10)}  ${fmt(c.drainPerS).padStart(7)}  ${pct(c.drainPerS).padStart(12)}  ${fmt(c.workerPerS).padStart(6)}  ${pct(c.workerPerS).padStart(11)}  ${fmt(c.acceptPerS).padStart(8)}`,
    );
  }
  const at0 = cases.filter((c) => c.latencyMs === 0);
  const best0 = Math.max(...at0.map((c) => c.drainPerS));
  const ofRaw = at0.length ? `; best pipeline drain at 0 ms ${best0.toFixed(1)} items/s = ${((100 * best0) / raw).toFixed(1)} % of raw` : ' (no case at 0 ms to compare with it)';
  console.log(`\nraw BullMQ no-op ${raw.toFixed(0)} jobs/s${ofRaw}`);
  const total = (cpu: Record<string, number>) => Object.values(cpu).reduce((a, b) => a + b, 0);
  const rawCpu = total(rawRun.cpuMsPerJob);
  for (const c of cases) {
    console.log(`CPU per item, sim ${c.latencyMs} ms, ${c.workers} worker(s): end to end ${total(c.e2eCpu).toFixed(2)} ms (net of idle ${total(c.e2eNet).toFixed(2)}), drain ${total(c.drainCpu).toFixed(2)} ms (net ${total(c.drainNet).toFixed(2)}); raw BullMQ no-op ${rawCpu.toFixed(3)} ms/job (end to end net = ${(total(c.e2eNet) / rawCpu).toFixed(0)}×)`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
