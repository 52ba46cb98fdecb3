import type { ErrorBody } from '@qv/contracts';
import { createUser, http, presets, startStack, type Stack } from '@qv/testing';
import { burst, outcomes, percentile, spread, trickle } from './support/burst';

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

  it('A gets only 202 and right 429s, B never fails (and its latency is printed)', async () => {
    await trickle(stack.api, b.key, 10); // warm-up: the first requests of a stack pay for its JIT and pools
    const alone = await trickle(stack.api, b.key, 60);
    expect(new Set(alone.statuses)).toEqual(new Set([202]));

    // One item of A's before the burst: this replica knows A's quota status, which every answer of
    // the burst then carries in its headers, the refusals of A's full line included.
    const first = await http('POST', `${stack.api}/v1/items`, { key: a.key, body: { content: 'A before the burst' } });
    expect(first.status).toBe(202);
    const sent = burst(stack.api, a.key, BURST);
    const during = await trickle(stack.api, b.key, sent);
    const { answers } = await sent;
    const byOutcome = outcomes(answers);
    // Everything is a 202 or one of A's own 429s, never a 503. How many of the 20 the burst itself
    // got depends on how fast its line drained (on a loaded machine some wait past the line's
    // bound); the limit is exact either way: A's later sequential requests take exactly what is left.
    const acceptedInBurst = byOutcome['202'] ?? 0;
    expect(acceptedInBurst).toBeGreaterThan(0);
    expect(acceptedInBurst).toBeLessThanOrEqual(ENRICHMENTS_LEFT - 1);
    let acceptedAfter = 0;
    for (;;) {
      const res = await http<ErrorBody>('POST', `${stack.api}/v1/items`, { key: a.key, body: { content: `A after the burst ${acceptedAfter}` } });
      if (res.status !== 202) {
        expect([res.status, res.body.error.code]).toEqual([429, 'DAILY_QUOTA_EXCEEDED']);
        break;
      }
      acceptedAfter++;
    }
    expect(1 + acceptedInBurst + acceptedAfter).toBe(ENRICHMENTS_LEFT);
    expect(Object.keys(byOutcome).filter((k) => k !== '202').sort()).toEqual(
      Object.keys(byOutcome).filter((k) => k === '429 DAILY_QUOTA_EXCEEDED' || k === '429 USER_REQUEST_RATE_EXCEEDED').sort(),
    );
    expect(answers.filter((x) => x.status === 429 && !(Number(x.retryAfter) >= 1))).toHaveLength(0);
    expect(answers.filter((x) => x.quotaRemaining === null).map((x) => x.code ?? x.status)).toEqual([]);

    const [{ n }] = await stack.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM items WHERE user_id = $1`, [a.id]);
    expect(Number(n)).toBe(ENRICHMENTS_LEFT);

    // B: every request accepted while the burst ran. Its latency is printed, not asserted (wall time
    // on a shared machine says nothing): api-service reads A's sockets first, so B's p99 during the
    // burst is bounded by how fast one event loop sheds A's requests, which each refuse in microseconds.
    expect(during.statuses.length).toBeGreaterThan(0);
    expect(new Set(during.statuses)).toEqual(new Set([202]));
    console.log(`burst ${BURST}: ${JSON.stringify(byOutcome)}; B alone ${spread(alone.latencies)} ms; during ${spread(during.latencies)} ms over ${during.latencies.length} requests (p99 ${(percentile(during.latencies, 99) / percentile(alone.latencies, 99)).toFixed(2)}× alone)`);
  }, 300_000);
});
