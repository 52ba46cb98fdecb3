import type { ChaosStack } from './chaos-stack';
import { sleep } from './ports';

export type FaultKind =
  | 'kill -9 api-service'
  | 'kill -9 quota-service'
  | 'kill -9 enrichment-worker'
  | 'kill -9 ledger-consumer'
  | 'kill -9 cache-service'
  | 'kill -9 llm-simulator'
  | 'restart redis'
  | 'restart postgresql'
  | 'pause quota-service';

export interface InjectedFault {
  kind: FaultKind;
  /** Seconds since the load began. */
  atSeconds: number;
  detail: string;
  ok: boolean;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

/**
 * Injects faults on a schedule while the load runs: from 10 % to 85 % of the run, evenly spaced,
 * rounds through every kind in a fresh random order (so each kind happens at least once, given
 * room for nine). Each fault is waited out (the process restarted, the server up, the pause over)
 * before the next begins.
 */
export async function injectFaults(stack: ChaosStack, startedAt: number, durationMs: number): Promise<InjectedFault[]> {
  const kinds: FaultKind[] = [
    'kill -9 api-service',
    'kill -9 quota-service',
    'kill -9 enrichment-worker',
    'kill -9 ledger-consumer',
    'kill -9 cache-service',
    'kill -9 llm-simulator',
    'restart redis',
    'pause quota-service',
    ...(stack.pg.restart ? (['restart postgresql'] as const) : []),
  ];
  // CHAOS_FAULTS narrows the kinds (comma-separated, as printed), to look at one recovery alone.
  const only = process.env.CHAOS_FAULTS?.split(',').map((k) => k.trim()).filter(Boolean);
  if (only?.length) kinds.splice(0, kinds.length, ...kinds.filter((k) => only.includes(k)));
  const first = startedAt + durationMs * 0.1;
  const last = startedAt + durationMs * 0.85;
  const count = Math.max(kinds.length, Math.floor((last - first) / 20_000));
  const spacing = (last - first) / Math.max(1, count - 1);
  const order: FaultKind[] = [];
  while (order.length < count) order.push(...[...kinds].sort(() => Math.random() - 0.5));
  const injected: InjectedFault[] = [];
  for (let i = 0; i < count; i++) {
    const wait = first + i * spacing - Date.now();
    if (wait > 0) await sleep(wait);
    const kind = order[i];
    const at = (Date.now() - startedAt) / 1000;
    try {
      const detail = await inject(stack, kind);
      injected.push({ kind, atSeconds: at, detail, ok: true });
      console.log(`  fault @${at.toFixed(1)}s ${kind}: ${detail}`);
    } catch (err) {
      injected.push({ kind, atSeconds: at, detail: (err as Error).message, ok: false });
      console.log(`  fault @${at.toFixed(1)}s ${kind} FAILED: ${(err as Error).message}`);
    }
  }
  return injected;
}

async function inject(stack: ChaosStack, kind: FaultKind): Promise<string> {
  const t0 = Date.now();
  const took = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  if (kind.startsWith('kill -9 ')) {
    const replica = pick(stack.fleet.of(kind.slice('kill -9 '.length)));
    const pid = replica.process.pid;
    await stack.fleet.crashAndRestart(replica);
    return `replica ${replica.index} (pid ${pid}) killed, back as pid ${replica.process.pid} on :${replica.port} in ${took()}`;
  }
  if (kind === 'restart redis') {
    await stack.redis.restart();
    return `down and back in ${took()}`;
  }
  if (kind === 'restart postgresql') {
    await stack.pg.restart!();
    return `immediate stop (a crash) and start in ${took()}`;
  }
  const replica = pick(stack.fleet.of('quota-service'));
  const ms = stack.quotaTimeoutMs * 2 + 1000;
  await stack.fleet.pause(replica, ms);
  return `replica ${replica.index} SIGSTOP for ${ms} ms (client timeout ${stack.quotaTimeoutMs} ms), then SIGCONT`;
}
