import { randomBytes } from 'node:crypto';
import { estimateOverruns } from '@qv/ledger';
import { Pool } from 'pg';
import { startChaosStack, REPLICAS, type ChaosStack } from './chaos-stack';
import { injectFaults, type InjectedFault } from './faults';
import { itemOutcomes, limitViolations, reconciliationDrift, sampleConcurrency, type ItemOutcomes, type LimitViolation } from './invariants';
import { LoadDriver, type ChaosUser } from './load';
import { sleep } from './ports';
import { formatTable, type ReportRow } from './report';
import { percentile, Tally } from './tally';

export interface SoakOptions {
  seconds: number;
  /** Clients issuing requests at once. */
  clients: number;
  usersPerPlan: number;
  /** Longest wait after the load for every accepted item to finish. */
  drainSeconds: number;
  /** The injected bug of the test that proves the checks can fail: judge right after the load, with no drain. */
  skipDrain?: boolean;
  /** Default true: items carrying `[sim:fail_first=N]` in the mix. */
  llmFaults?: boolean;
  fallbackPgServerUrl: string;
}

export interface SoakResult {
  table: string;
  violations: string[];
  outcomes: ItemOutcomes;
  limitViolations: LimitViolation[];
  drift: number;
  faults: InjectedFault[];
  /** False where initdb was missing: a shared server is never restarted, so one kind of fault fewer. */
  ownPostgres: boolean;
  tally: Tally;
}

const PLANS = ['free', 'payg', 'pro_monthly', 'pro_annual', 'enterprise'] as const;

/** Users on every plan, and a few with tight overrides so each of the five limits is reached in a short run. */
async function createUsers(stack: ChaosStack, perPlan: number): Promise<ChaosUser[]> {
  const specs: Array<{ plan: string; overrides?: Record<string, number> }> = [];
  for (const plan of PLANS) for (let i = 0; i < perPlan; i++) specs.push({ plan });
  specs.push({ plan: 'pro_monthly', overrides: { concurrentJobs: 1 } });
  specs.push({ plan: 'payg', overrides: { callsPerHour: 12 } });
  specs.push({ plan: 'pro_annual', overrides: { enrichmentsPerDay: 10 } });
  specs.push({ plan: 'pro_monthly', overrides: { tokensPerDay: 3_000 } });
  specs.push({ plan: 'payg', overrides: { tokensPerMonth: 3_000 } });
  const users: ChaosUser[] = [];
  for (const spec of specs) {
    const res = await fetch(`${stack.apis[0]}/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(spec),
    });
    const body = (await res.json()) as { user: { id: string }; apiKey: string };
    if (res.status !== 201) throw new Error(`creating a ${spec.plan} user failed: ${res.status} ${JSON.stringify(body)}`);
    users.push({ id: body.user.id, key: body.apiKey, plan: spec.plan });
  }
  return users;
}

async function deadLetterItems(stack: ChaosStack): Promise<Set<string>> {
  const res = await fetch(`${stack.apis[0]}/admin/dlq`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
  if (res.status !== 200) throw new Error(`GET /admin/dlq answered ${res.status}`);
  return new Set(((await res.json()) as { jobs: Array<{ itemId: string }> }).jobs.map((j) => j.itemId));
}

/** Waits until every accepted item is DONE or FAILED with its dead letter and no reservation is in flight, or the time is up. */
async function drain(stack: ChaosStack, db: Pool, accepted: string[], seconds: number): Promise<number> {
  const t0 = Date.now();
  let quietSince: number | undefined;
  let lastReport = t0;
  while (Date.now() - t0 < seconds * 1000) {
    try {
      const out = await itemOutcomes(db, accepted, await deadLetterItems(stack));
      const settled = out.lost.length === 0 && out.failedWithoutDeadLetter.length === 0 && out.reservationsInFlight === 0;
      const drift = settled ? (await reconciliationDrift(stack.apis[0], stack.adminKey)).totalDrift : -1;
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        console.log(`  draining @${((Date.now() - t0) / 1000).toFixed(0)} s: ${out.lost.length} unfinished (${[...new Set(out.lost.map((l) => l.status))].join(', ') || '-'}), ${out.failedWithoutDeadLetter.length} FAILED without dead letter, ${out.reservationsInFlight} reservations in flight, drift ${drift < 0 ? '?' : drift}`);
      }
      // Quiet for 3 s in a row: a settlement or dead letter still on its way has landed.
      if (settled && drift === 0) {
        quietSince ??= Date.now();
        if (Date.now() - quietSince >= 3000) break;
      } else quietSince = undefined;
    } catch {
      quietSince = undefined;
    }
    await sleep(1000);
  }
  return (Date.now() - t0) / 1000;
}

/** Retries `fn` for up to 30 s: a PostgreSQL or Redis restart may be under way. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 30) throw err;
      await sleep(1000);
    }
  }
}

/** The chaos soak (issue 12 item 3): load, faults on a schedule, a drain, then the invariants from the data. */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const runId = randomBytes(3).toString('hex');
  console.log(`• chaos ${runId}: ${o.seconds} s of load from ${o.clients} clients, replicas ${JSON.stringify(REPLICAS)}`);
  const stack = await startChaosStack({ fallbackPgServerUrl: o.fallbackPgServerUrl });
  // A pool: its connections die with each PostgreSQL restart and are opened again on the next query.
  const db = new Pool({ connectionString: stack.pg.url, max: 2 });
  db.on('error', () => undefined);
  try {
    console.log(`• PostgreSQL: ${stack.pg.description}; Redis: ${stack.redis.url} (own); api-service: ${stack.apis.join(', ')}`);
    const users = await createUsers(stack, o.usersPerPlan);
    const tally = new Tally();
    const startedAt = Date.now();
    const stopSampling = sampleConcurrency(stack.pg.url);
    const driver = new LoadDriver({ apis: stack.apis, adminKey: stack.adminKey, users, clients: o.clients, stopAt: startedAt + o.seconds * 1000, replayEveryMs: 4000, tally, runId, llmFaults: o.llmFaults ?? true });
    // The injected bug (skipDrain): the items are judged the moment the clients stop, while the
    // pipeline still works on the last of them.
    let undrained: ItemOutcomes | undefined;
    const load = driver.run().then(async () => {
      if (o.skipDrain) undrained = await retrying(async () => itemOutcomes(db, [...tally.accepted.keys()], await deadLetterItems(stack)));
    });
    const [faults] = await Promise.all([injectFaults(stack, startedAt, o.seconds * 1000), load]);
    console.log(`• load over after ${((Date.now() - startedAt) / 1000).toFixed(0)} s: ${tally.requests()} requests, ${tally.accepted.size} items accepted`);
    const accepted = [...tally.accepted.keys()];
    const drainSeconds = o.skipDrain ? 0 : await drain(stack, db, accepted, o.drainSeconds);
    const concurrency = await stopSampling();
    console.log(`• drained in ${drainSeconds.toFixed(1)} s`);

    const outcomes = undrained ?? (await itemOutcomes(db, accepted, await deadLetterItems(stack)));
    const limits = [...(await limitViolations(db)), ...concurrency.violations];
    const recon = await reconciliationDrift(stack.apis[0], stack.adminKey);
    // Every limit holds only while no settlement passes its estimate (the budget the charge checked).
    const aboveEstimate = (await estimateOverruns(db, '1970-01-01')).reduce((sum, day) => ({ reservations: sum.reservations + day.reservations, tokens: sum.tokens + day.tokens }), { reservations: 0, tokens: 0 });
    const ledger = (await db.query<{ entries: string; hits: string; uncharged: string }>(
      `SELECT count(*)::text AS entries, count(*) FILTER (WHERE cache_hit)::text AS hits, count(*) FILTER (WHERE NOT charged)::text AS uncharged FROM ai_usage_ledger WHERE kind = 'completed'`,
    )).rows[0];
    const byKind = new Map<string, number>();
    for (const f of faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + (f.ok ? 1 : 0));
    const failedFaults = faults.filter((f) => !f.ok);

    const rows: ReportRow[] = [
      { label: 'requests sent (all routes)', value: String(tally.requests()) },
      { label: 'accepted (202, distinct items)', value: String(outcomes.accepted) },
      { label: 'accepted by kind of request', value: tally.acceptedByKind() },
      { label: 'answers replayed under their Idempotency-Key', value: String(tally.idempotentReplays) },
      { label: 'DONE', value: String(outcomes.done) },
      { label: 'completed ledger entries (cache hits, uncharged replays)', value: `${ledger.entries} (${ledger.hits}, ${ledger.uncharged})` },
      { label: 'FAILED with a dead letter', value: String(outcomes.failedWithDeadLetter) },
      { label: 'FAILED without a dead letter', value: String(outcomes.failedWithoutDeadLetter.length), ok: outcomes.failedWithoutDeadLetter.length === 0 },
      { label: 'lost (accepted, then missing or unfinished)', value: String(outcomes.lost.length), ok: outcomes.lost.length === 0 },
      { label: 'executed twice (ledger / charges per item)', value: String(outcomes.executedTwice.length), ok: outcomes.executedTwice.length === 0 },
      { label: 'one Idempotency-Key, two items', value: String(tally.keysWithTwoItems.length), ok: tally.keysWithTwoItems.length === 0 },
      { label: 'any limit exceeded', value: String(limits.length), ok: limits.length === 0 },
      { label: 'settled above their estimate (reservations, tokens)', value: `${aboveEstimate.reservations}, ${aboveEstimate.tokens}`, ok: aboveEstimate.reservations === 0 },
      { label: 'concurrency samples (failed during restarts)', value: `${concurrency.samples} (${concurrency.failed})` },
      { label: 'reconciliation drift (GET /admin/reconciliation)', value: `${recon.totalDrift} over ${recon.rows} user-days`, ok: recon.totalDrift === 0 },
      { label: 'reservations in flight', value: String(outcomes.reservationsInFlight), ok: outcomes.reservationsInFlight === 0 },
      { label: 'reservations expired unsettled', value: String(outcomes.reservationsExpired) },
      { label: 'refusals 429 by code', value: [...tally.refusals].map(([c, n]) => `${c} ${n}`).join(', ') || '0' },
      { label: 'dead-letter replays (202 / refused)', value: `${tally.replays.accepted} / ${tally.replays.refused}` },
      ...tally.fiveXx().map((r) => ({ label: `5xx ${r.route}`, value: `${r.status}: ${r.n}` })),
      { label: 'accept latency p50 / p99', value: `${percentile(tally.acceptMs, 50).toFixed(0)} ms / ${percentile(tally.acceptMs, 99).toFixed(0)} ms` },
      ...[...byKind].sort().map(([kind, n]) => ({ label: `fault: ${kind}`, value: String(n) })),
      { label: 'faults that could not be injected', value: String(failedFaults.length), ok: failedFaults.length === 0 },
      { label: 'processes that died on their own (restarted)', value: stack.fleet.unexpectedExits.map((e) => `${e.service} ${e.code ?? e.signal}`).join(', ') || '0', ok: stack.fleet.unexpectedExits.length === 0 },
      { label: 'drain', value: o.skipDrain ? 'skipped (CHAOS_SKIP_DRAIN)' : `${drainSeconds.toFixed(1)} s` },
    ];
    const violations = rows.filter((r) => r.ok === false).map((r) => `${r.label}: ${r.value}`);
    const table = formatTable(`chaos ${runId}: ${o.seconds} s, ${REPLICAS['api-service']} api / ${REPLICAS['quota-service']} quota / ${REPLICAS['enrichment-worker']} workers / ${REPLICAS['ledger-consumer']} ledger, ${users.length} users; ${stack.pg.description}`, rows);
    for (const [what, list] of [['lost', outcomes.lost], ['executed twice', outcomes.executedTwice], ['limits', limits], ['FAILED without dead letter', outcomes.failedWithoutDeadLetter], ['drifting', recon.drifting], ['faults failed', failedFaults], ['died on their own', stack.fleet.unexpectedExits]] as const) {
      if ((list as unknown[]).length) console.log(`  ${what} (first 10): ${JSON.stringify((list as unknown[]).slice(0, 10))}`);
    }
    return { table, violations, outcomes, limitViolations: limits, drift: recon.totalDrift, faults, ownPostgres: stack.pg.restart !== undefined, tally };
  } finally {
    await db.end().catch(() => undefined);
    await stack.stop();
  }
}
