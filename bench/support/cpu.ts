// CPU time per process from /proc (Linux), so the benchmarks can print CPU-milliseconds per item:
// on a shared 2-core machine CPU time varies far less than wall time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { processCpuMs, TICK_MS } from '../../libs/testing/src/process-cpu';

export { processCpuMs };

/** Resident set of `pid` in MB (VmRSS), or undefined once it has exited. */
export function residentMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const children = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

/** The postmaster of a backend (`SELECT pg_backend_pid()`): its parent. Several servers may run on one machine. */
export function postmasterOf(backendPid: number): number {
  const stat = readFileSync(`/proc/${backendPid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * PostgreSQL's CPU over a window, from its processes' /proc: the backends connected to `database`
 * (their title names it), and the rest (background writers, and other work on a shared server).
 * Sampled every 200 ms, so a backend that exits inside the window keeps what it used until its last
 * sample; one born inside it counts from zero.
 */
export class PostgresCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, { ms: number; ours: boolean }>();
  private timer?: NodeJS.Timeout;

  /** `exclude`: backends of the benchmark's own connections (its polling is not the system's work). */
  constructor(private readonly postmaster: number, private readonly database: string, private readonly exclude: ReadonlySet<number> = new Set()) {}

  start(): void {
    this.first.clear();
    this.last.clear();
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), 200);
  }

  /** CPU ms since start(): of this database's backends, and of every other postgres process. */
  stop(): { ours: number; others: number } {
    clearInterval(this.timer);
    this.sample(false);
    let ours = 0;
    let others = 0;
    for (const [pid, { ms, ours: isOurs }] of this.last) {
      const used = ms - (this.first.get(pid) ?? 0);
      if (isOurs) ours += used;
      else others += used;
    }
    return { ours, others };
  }

  private sample(initial: boolean): void {
    for (const pid of children(this.postmaster)) {
      const ms = processCpuMs(pid);
      if (ms === undefined) continue;
      if (initial) this.first.set(pid, ms);
      const known = this.last.get(pid);
      this.last.set(pid, { ms, ours: known?.ours ?? (!this.exclude.has(pid) && cmdline(pid).includes(` ${this.database} `)) });
    }
  }
}

/** Redis's CPU ms so far (`INFO cpu`: used_cpu_sys + used_cpu_user; the whole server). */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (read('used_cpu_sys') + read('used_cpu_user')) * 1000;
}

/** CPU ms of named processes over a window (those that exit inside it count until they exit: read before they stop). */
export class ProcessesCpu {
  private readonly first = new Map<string, { pid: number; ms: number }[]>();

  constructor(private readonly processes: () => { name: string; pid: number }[]) {}

  start(): void {
    this.first.clear();
    for (const { name, pid } of this.processes()) {
      const list = this.first.get(name) ?? [];
      list.push({ pid, ms: processCpuMs(pid) ?? 0 });
      this.first.set(name, list);
    }
  }

  /** CPU ms since start(), by name (several processes of one name are summed). */
  stop(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, list] of this.first) {
      out[name] = list.reduce((sum, { pid, ms }) => sum + ((processCpuMs(pid) ?? ms) - ms), 0);
    }
    return out;
  }
}

/** One line: `name a.b` per entry, ms per item, and their total. */
export function formatPerItem(cpu: Record<string, number>, items: number): string {
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  const parts = Object.entries(cpu).map(([name, ms]) => `${name} ${(ms / items).toFixed(2)}`);
  return `${parts.join(' · ')} = ${(total / items).toFixed(2)} ms/item`;
}

/**
 * Everything an item costs over one window: each named process (services, by name), PostgreSQL's
 * backends of the run's database, and Redis (the whole server: it may serve other work too).
 * PostgreSQL's other processes are reported apart and left out of the total.
 */
export class CpuWindow {
  private readonly procs: ProcessesCpu;
  private readonly pg: PostgresCpu;
  private redisAtStart = 0;

  /** `backendPid`: any backend of the server (`SELECT pg_backend_pid()`), to find its postmaster; `excludeBackends`: the benchmark's own. */
  constructor(processes: () => { name: string; pid: number }[], database: string, private readonly redis: Redis, backendPid: number, excludeBackends: number[] = []) {
    this.procs = new ProcessesCpu(processes);
    this.pg = new PostgresCpu(postmasterOf(backendPid), database, new Set(excludeBackends));
  }

  async start(): Promise<void> {
    this.redisAtStart = await redisCpuMs(this.redis);
    this.procs.start();
    this.pg.start();
  }

  /** CPU ms since start(): by service, `postgres`, `redis`; and `pgOther` (not in the record). */
  async stop(): Promise<{ cpu: Record<string, number>; pgOther: number }> {
    const cpu = this.procs.stop();
    const pg = this.pg.stop();
    cpu.postgres = pg.ours;
    cpu.redis = (await redisCpuMs(this.redis)) - this.redisAtStart;
    return { cpu, pgOther: pg.others };
  }
}

/** Read and write system calls `pid` has made so far (/proc/<pid>/io), or undefined once it has exited. */
export function syscalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/^syscr: (\d+)/m.exec(io)?.[1] ?? 0), writes: Number(/^syscw: (\d+)/m.exec(io)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/** `name NN MB` of each process now (VmRSS). */
export function formatResident(processes: { name: string; pid: number }[]): string {
  return processes.map(({ name, pid }) => `${name} ${residentMb(pid)?.toFixed(0) ?? '?'} MB`).join(' · ');
}

/** With BENCH_CPU_PROF=1, the environment that makes a service write a V8 CPU profile to .run/prof/ when it exits. */
export function profileEnv(): Record<string, string> {
  if (!process.env.BENCH_CPU_PROF) return {};
  return { NODE_OPTIONS: `--require ${join(__dirname, 'cpu-profile.preload.cjs')}`, QV_CPU_PROF_DIR: join(__dirname, '..', '..', '.run', 'prof') };
}
