import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ErrorBody } from '@qv/contracts';
import { createUser, http, presets, startStack, type Stack } from '@qv/testing';

/**
 * One key's burst stays that key's problem (issue 12, item 2): 10,000 concurrent POST /v1/items
 * from user A, who has 20 enrichments left, beside a steady trickle from user B. A gets only 202s
 * and 429s with the right code and a Retry-After, never a 503; B never fails.
 * No worker runs: accepted items stay in flight, which is all this test needs.
 */
// 10,000 in `BURST_REQUESTS=10000 npm test -- e2e/burst-fairness`; the suite sends 1,000 (which gave 587 × 503 before), still four times what one
// user's line holds, so every path (admitted, queued, refused at once, refused after waiting) runs.
const BURST = Number(process.env.BURST_REQUESTS ?? 1_000);
const ENRICHMENTS_LEFT = 20;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

describe('a burst from one key', () => {
  let stack: Stack;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  beforeAll(async () => {
    stack = await startStack(presets.withoutPipeline, {
      // The services' own defaults (their config.ts), in place of the test stack's patient ones.
      env: { ACCEPT_ADMISSION_WAIT_MS: '1500', CHARGE_ADMISSION_WAIT_MS: '1000', QUOTA_TIMEOUT_MS: '2000' },
    });
    a = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: ENRICHMENTS_LEFT, concurrentJobs: 100_000 });
    b = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: null, concurrentJobs: 100_000, callsPerHour: null });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  /** B's sequential requests for as long as `until` is pending; each one's latency in ms. */
  const trickle = async (count: number | Promise<unknown>) => {
    const latencies: number[] = [];
    const statuses: number[] = [];
    let done = false;
    if (typeof count !== 'number') void count.finally(() => (done = true));
    for (let i = 0; typeof count === 'number' ? i < count : !done; i++) {
      const started = performance.now();
      const res = await http('POST', `${stack.api}/v1/items`, { key: b.key, body: { content: `B's note ${i}` } });
      latencies.push(performance.now() - started);
      statuses.push(res.status);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { latencies, statuses };
  };

  it('A gets only 202 and right 429s, B never fails (and its latency is printed)', async () => {
    const alone = await trickle(30);
    expect(new Set(alone.statuses)).toEqual(new Set([202]));

    // From a process of its own (e2e/support/burst-client.mjs): sending and reading 10,000 answers
    // in this process would delay the timing of B's requests by this process's own work.
    const burst = new Promise<Array<{ status: number; retryAfter: string | null; code: string | null }>>((resolve, reject) => {
      const child = spawn(process.execPath, [join(__dirname, 'support', 'burst-client.mjs'), stack.api, a.key, String(BURST)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the burst client exited with ${code}`))));
    });
    const during = await trickle(burst);
    const answers = await burst;

    const byOutcome: Record<string, number> = {};
    for (const answer of answers) byOutcome[`${answer.status} ${answer.code ?? ''}`.trim()] = (byOutcome[`${answer.status} ${answer.code ?? ''}`.trim()] ?? 0) + 1;
    // Everything is a 202 or one of A's own 429s, never a 503. How many of the 20 the burst itself
    // got depends on how fast its line drained (on a loaded machine some wait past the line's
    // bound); the limit is exact either way: A's later sequential requests take exactly what is left.
    const acceptedInBurst = byOutcome['202'] ?? 0;
    expect(acceptedInBurst).toBeGreaterThan(0);
    expect(acceptedInBurst).toBeLessThanOrEqual(ENRICHMENTS_LEFT);
    let acceptedAfter = 0;
    for (;;) {
      const res = await http<ErrorBody>('POST', `${stack.api}/v1/items`, { key: a.key, body: { content: `A after the burst ${acceptedAfter}` } });
      if (res.status !== 202) {
        expect([res.status, res.body.error.code]).toEqual([429, 'DAILY_QUOTA_EXCEEDED']);
        break;
      }
      acceptedAfter++;
    }
    expect(acceptedInBurst + acceptedAfter).toBe(ENRICHMENTS_LEFT);
    expect(Object.keys(byOutcome).filter((k) => k !== '202').sort()).toEqual(
      Object.keys(byOutcome).filter((k) => k === '429 DAILY_QUOTA_EXCEEDED' || k === '429 USER_REQUEST_RATE_EXCEEDED').sort(),
    );
    expect(answers.filter((x) => x.status === 429 && !(Number(x.retryAfter) >= 1))).toHaveLength(0);

    const [{ n }] = await stack.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM items WHERE user_id = $1`, [a.id]);
    expect(Number(n)).toBe(ENRICHMENTS_LEFT);

    // B: every request accepted while the burst ran. Its latency is printed, not asserted (wall time
    // on a shared machine says nothing): api-service reads A's sockets first, so B's p99 during the
    // burst is bounded by how fast one event loop sheds A's requests, which each refuse in microseconds.
    expect(during.statuses.length).toBeGreaterThan(0);
    expect(new Set(during.statuses)).toEqual(new Set([202]));
    console.log(`burst ${BURST}: ${JSON.stringify(byOutcome)}; B p99 alone ${percentile(alone.latencies, 99).toFixed(1)} ms, during ${percentile(during.latencies, 99).toFixed(1)} ms over ${during.latencies.length} requests`);
  }, 300_000);
});
