// One key's burst beside another user's trickle, shared by e2e/burst-fairness (which asserts the
// answers) and `npm run bench -- burst` (which prints the trickle's latency beside its own alone).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { http } from '@qv/testing';

export interface BurstAnswer {
  status: number;
  retryAfter: string | null;
  /** X-AI-Quota-Remaining: every answer of POST /v1/items carries the quota headers (DESIGN.md §4). */
  quotaRemaining: string | null;
  code: string | null;
}

export interface Trickle {
  latencies: number[];
  statuses: number[];
  /** When each request was sent (performance.now()). */
  sentAt: number[];
}

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};

export const spread = (values: number[]): string => [50, 90, 99].map((p) => `p${p} ${percentile(values, p).toFixed(1)}`).join(' · ');

/**
 * Sequential `POST /v1/items` of one key, 20 ms apart: `count` of them, or for as long as `until`
 * is pending. Each one's latency in ms and its status.
 */
export async function trickle(api: string, key: string, count: number | Promise<unknown>): Promise<Trickle> {
  const latencies: number[] = [];
  const statuses: number[] = [];
  const sentAt: number[] = [];
  let done = false;
  if (typeof count !== 'number') void count.finally(() => (done = true));
  for (let i = 0; typeof count === 'number' ? i < count : !done; i++) {
    const started = performance.now();
    sentAt.push(started);
    const res = await http('POST', `${api}/v1/items`, { key, body: { content: `a trickled note ${i}` } });
    latencies.push(performance.now() - started);
    statuses.push(res.status);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { latencies, statuses, sentAt };
}

/**
 * `count` concurrent `POST /v1/items` of `key`, from a process of its own (burst-client.mjs):
 * sending and reading 10,000 answers in the caller's process would delay the timing of the
 * trickle by the caller's own work. Resolves with every answer once all have come back, and the
 * client's own CPU ms.
 */
export function burst(api: string, key: string, count: number): Promise<{ answers: BurstAnswer[]; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'burst-client.mjs'), api, key, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the burst client exited with ${code}`))));
  });
}

/** Answers counted by `status code`, e.g. `{ '202': 20, '429 DAILY_QUOTA_EXCEEDED': 3277 }`. */
export function outcomes(answers: BurstAnswer[]): Record<string, number> {
  const byOutcome: Record<string, number> = {};
  for (const answer of answers) {
    const outcome = `${answer.status} ${answer.code ?? ''}`.trim();
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  }
  return byOutcome;
}
