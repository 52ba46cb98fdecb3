// `npm run ops -- <command>`: the operator's CLI, speaking to the admin API (API_URL, ADMIN_API_KEY;
// defaults: http://127.0.0.1:3000 and the key `npm start` saved in .run/dev-keys.json).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `Usage: npm run ops -- <command>
  dlq list [--user U] [--since ISO] [--until ISO] [--error TEXT]
  dlq show <jobId>
  dlq replay <jobId> [--charge]
  dlq replay --all [--user U] [--since ISO] [--until ISO] [--error TEXT] [--charge]
  dlq discard <jobId>
  cache stats
  cache purge [--tier system|session|content] [--user U]
  reconcile [--user U] [--since YYYY-MM-DD] [--drifting]   exits 1 when any drift is found
  report [--since YYYY-MM-DD]
  user show <userId>
  user set-plan <userId> <plan>
  user override <userId> <limit>=<n|null|plan> ...   null: unlimited; plan: the plan's limit again
  user keys <userId>                           list a user's API keys (prefixes)
  user new-key <userId>                        issue another key (shown once)
  user revoke-key <userId> <keyId>
  plans`;

function adminKey(): string {
  if (process.env.ADMIN_API_KEY) return process.env.ADMIN_API_KEY;
  const file = join(__dirname, '..', '.run', 'dev-keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).admin;
  throw new Error('Set ADMIN_API_KEY (or run `npm start` once, which saves a local one)');
}

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const base = process.env.API_URL ?? 'http://127.0.0.1:3000';
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${adminKey()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${json?.error?.code ?? ''}: ${json?.error?.message ?? text}`);
  return json;
}

const query = (o: Record<string, string | undefined>) => {
  const q = new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined) as [string, string][]).toString();
  return q ? `?${q}` : '';
};

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      user: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      error: { type: 'string' },
      tier: { type: 'string' },
      charge: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      drifting: { type: 'boolean', default: false },
    },
  });
  const [area, action, ...rest] = positionals;
  const filter = { userId: values.user, since: values.since, until: values.until, error: values.error };
  const print = (x: unknown) => console.log(JSON.stringify(x, null, 2));

  switch (`${area} ${action ?? ''}`.trim()) {
    case 'dlq list': {
      const { jobs, truncated } = await call('GET', `/admin/dlq${query(filter)}`);
      if (!jobs.length) console.log('No dead letter matches.');
      for (const j of jobs) console.log(`${j.jobId}  item=${j.itemId} user=${j.userId} attempts=${j.attemptsMade} failedAt=${j.failedAt}\n    ${j.failedReason}`);
      if (truncated) console.log(`(the first ${jobs.length}: more match; narrow the filter)`);
      return 0;
    }
    case 'dlq show':
      print(await call('GET', `/admin/dlq/${encodeURIComponent(rest[0])}`));
      return 0;
    case 'dlq replay':
      if (values.all) {
        // A call replays at most 1,000; those that failed stay in the queue, so stop when a call replays none.
        for (;;) {
          const res = await call('POST', '/admin/dlq/replay', { ...filter, chargeUser: values.charge });
          print(res);
          if (!res.more || res.replayed.length === 0) break;
        }
      } else if (rest[0]) print(await call('POST', `/admin/dlq/${encodeURIComponent(rest[0])}/replay`, { chargeUser: values.charge }));
      else throw new Error('dlq replay needs a job id or --all');
      return 0;
    case 'dlq discard':
      await call('DELETE', `/admin/dlq/${encodeURIComponent(rest[0])}`);
      console.log(`discarded ${rest[0]}`);
      return 0;
    case 'cache stats':
      print(await call('GET', '/admin/cache/stats'));
      return 0;
    case 'cache purge':
      print(await call('POST', '/admin/cache/purge', { tier: values.tier, userId: values.user }));
      return 0;
    case 'reconcile': {
      const { rows, totalDrift, truncated } = await call('GET', `/admin/reconciliation${query({ userId: values.user, since: values.since, drifting: values.drifting ? 'true' : undefined })}`);
      console.log('userId'.padEnd(34), 'day'.padEnd(11), 'reserved'.padStart(9), 'settled'.padStart(9), 'ledger'.padStart(9), 'counter'.padStart(9), 'drift'.padStart(6));
      for (const r of rows) console.log(r.userId.padEnd(34), r.day.padEnd(11), String(r.reservedTokens).padStart(9), String(r.settledTokens).padStart(9), String(r.ledgerTokens).padStart(9), String(r.counterTokens).padStart(9), String(r.drift).padStart(6));
      if (truncated) console.log(`(the first ${rows.length} user-days; the drift below is over all of them)`);
      console.log(totalDrift === 0 ? 'No drift.' : `DRIFT: ${totalDrift} tokens`);
      return totalDrift === 0 ? 0 : 1;
    }
    case 'report':
      print(await call('GET', `/admin/reports/usage${query({ since: values.since })}`));
      return 0;
    case 'user show':
      print(await call('GET', `/admin/users/${encodeURIComponent(rest[0])}`));
      return 0;
    case 'user set-plan':
      print(await call('PATCH', `/admin/users/${encodeURIComponent(rest[0])}`, { plan: rest[1] }));
      return 0;
    case 'user override': {
      const pairs = rest.slice(1).map((kv) => kv.split('='));
      const merge = Object.fromEntries(pairs.filter(([, v]) => v !== 'plan').map(([k, v]) => [k, v === 'null' ? null : Number(v)]));
      const remove = pairs.filter(([, v]) => v === 'plan').map(([k]) => k);
      print(await call('PATCH', `/admin/users/${encodeURIComponent(rest[0])}`, { mergeOverrides: merge, ...(remove.length ? { removeOverrides: remove } : {}) }));
      return 0;
    }
    case 'user keys':
      print(await call('GET', `/admin/users/${encodeURIComponent(rest[0])}/keys`));
      return 0;
    case 'user new-key':
      print(await call('POST', `/admin/users/${encodeURIComponent(rest[0])}/keys`));
      return 0;
    case 'user revoke-key':
      // Through the admin API, never straight in the database: the replica that revokes evicts
      // the key at once and publishes the eviction to the others (AUTH_CACHE_TTL_MS is the bound
      // only where that message is lost).
      await call('DELETE', `/admin/users/${encodeURIComponent(rest[0])}/keys/${encodeURIComponent(rest[1])}`);
      console.log(`revoked ${rest[1]}`);
      return 0;
    case 'plans':
      print(await call('GET', '/admin/plans'));
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`✖ ${(err as Error).message}`);
    process.exit(1);
  },
);
