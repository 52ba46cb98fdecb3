import type { QuotaStatus, ReconciliationResponse } from '@qv/contracts';
import { eventually, http, type Stack } from '@qv/testing';
import fc from 'fast-check';

const RUNS = 40;

/**
 * Sends `calls` (bodies and headers) to `path` as `user`, RUNS of them: never a 5xx; a 4xx carries an
 * error code (in `error.code`, as the house, OpenAI and Anthropic shapes all have it) and leaves the
 * user's quota, reservations and ledger entries exactly as they were; then every call answered 200
 * is settled (nothing left reserved), none above its estimate, and the counters match the ledger
 * (drift 0). Answers how many were answered 200.
 */
export async function hostileCallsHold(stack: Stack, path: string, user: { id: string; key: string }, calls: fc.Arbitrary<{ body: unknown; headers: Record<string, string> }>): Promise<number> {
  const quota = async () => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas;
  const rows = async () =>
    (
      await stack.db.query<{ reservations: number; entries: number }>(
        'SELECT (SELECT count(*) FROM ai_usage_reservations WHERE user_id = $1)::int AS reservations, (SELECT count(*) FROM ai_usage_ledger WHERE user_id = $1)::int AS entries',
        [user.id],
      )
    )[0];
  let answered = 0;
  await fc.assert(
    fc.asyncProperty(calls, async ({ body, headers }) => {
      const before = { quota: await quota(), rows: await rows() };
      const res = await http<{ error?: { code?: unknown } }>('POST', `${stack.api}${path}`, { key: user.key, body, headers });
      if (res.status >= 500) throw new Error(`${res.status} ${JSON.stringify(res.body).slice(0, 300)} for ${JSON.stringify(body).slice(0, 300)}`);
      if (res.status >= 400) {
        if (typeof res.body?.error?.code !== 'string') throw new Error(`${res.status} without an error code: ${JSON.stringify(res.body).slice(0, 300)}`);
        if (JSON.stringify([await quota(), await rows()]) !== JSON.stringify([before.quota, before.rows])) throw new Error(`a ${res.status} changed the quota or the rows, for ${JSON.stringify(body).slice(0, 300)}`);
      } else {
        if (res.status !== 200) throw new Error(`answered ${res.status}`);
        answered++;
      }
    }),
    { numRuns: RUNS },
  );
  const reserved = () => stack.db.query('SELECT id FROM ai_usage_reservations WHERE user_id = $1 AND status = $2', [user.id, 'RESERVED']);
  await eventually(async () => (await reserved()).length === 0);
  const { totalDrift } = (await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?userId=${user.id}`, { key: stack.adminKey })).body;
  if (totalDrift !== 0) throw new Error(`drift ${totalDrift} after the hostile calls`);
  // The estimate bounded what the provider billed, whatever the body held (tools, calls, images…).
  const above = await stack.db.query<{ item_id: string; estimated_tokens: number; actual_tokens: number }>(
    'SELECT item_id, estimated_tokens, actual_tokens FROM ai_usage_reservations WHERE user_id = $1 AND actual_tokens > estimated_tokens',
    [user.id],
  );
  if (above.length > 0) throw new Error(`settled above the estimate: ${JSON.stringify(above)}`);
  console.log(`hostile calls to ${path}: ${answered} of ${RUNS} answered 200, the rest 4xx`);
  return answered;
}

/** A header value fetch sends as it is: printable ASCII. */
export const headerValue = fc.string({ unit: 'binary-ascii', maxLength: 80 }).filter((v) => /^[\x20-\x7e]*$/.test(v));

/** The chat paths' own headers, valid or not. */
export const chatHeaders = fc.record(
  { 'x-qv-cache': fc.oneof(fc.constantFrom('content', 'session', 'off'), headerValue), 'x-qv-cache-ttl': fc.oneof(fc.nat().map(String), headerValue), 'idempotency-key': fc.oneof(fc.constantFrom('k1', 'k2'), headerValue) },
  { requiredKeys: [] },
);
