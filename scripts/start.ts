// `npm start`: find or start PostgreSQL and Redis, migrate and seed, start the six services as
// separate processes, run a demo item to DONE, print the URL and keys, and stop everything on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { ensureDatabase, ensureUserWithKey, runMigrations, seedPlans } from '../libs/db/src';
import { generateServiceTokens, serviceCredentialEnv, SERVICE_CALLERS, type ServiceTokenVariable } from '../libs/http/src/service-auth';
import { findOrStartInfra, withDatabase } from './infra';

const ROOT = join(__dirname, '..');
const SERVICES = [
  ['llm-simulator', 3005],
  ['quota-service', 3001],
  ['cache-service', 3003],
  ['ledger-consumer', 3004],
  ['enrichment-worker', 3002],
  ['api-service', 3000],
] as const;

/** Keys kept under .run/ so a restart prints the same ones (unless ADMIN_API_KEY is set). */
function devKeys(): { admin: string; demo: string } {
  const file = join(ROOT, '.run', 'dev-keys.json');
  mkdirSync(join(ROOT, '.run'), { recursive: true });
  const saved = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const keys = { admin: process.env.ADMIN_API_KEY ?? saved.admin ?? `qv_admin_${randomBytes(16).toString('hex')}`, demo: saved.demo ?? `qv_demo_${randomBytes(16).toString('hex')}` };
  writeFileSync(file, JSON.stringify(keys, null, 2));
  return keys;
}

function startService(name: string, port: number, env: Record<string, string>): Promise<ChildProcess> {
  // The compiled service (scripts/bootstrap.mjs ran scripts/build-services.mjs before this script).
  const child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'dist', name, 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(process.env[`${name.toUpperCase().replace(/-/g, '_')}_PORT`] ?? port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${name}]`.padEnd(20);
  const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) => {
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (process.env.QUIET !== '1') out.write(`${prefix} ${line}\n`);
    });
  };
  relay(child.stdout!, process.stdout);
  relay(child.stderr!, process.stderr);
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes(`ready ${name} `)) {
        child.stdout!.off('data', onData);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} while starting`)));
  });
}

async function main(): Promise<void> {
  const infra = await findOrStartInfra();
  const databaseUrl = process.env.DATABASE_URL ?? withDatabase(infra.pgServerUrl, 'quota_vault');
  await ensureDatabase(databaseUrl);
  const migrated = await runMigrations(databaseUrl);
  console.log(`• migrations: ${migrated.applied.length} applied, ${migrated.skipped.length} already there`);
  const keys = devKeys();
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    await seedPlans(pool);
    await ensureUserWithKey(pool, { id: 'usr_admin', email: 'admin@localhost', planId: 'enterprise', role: 'admin', apiKey: keys.admin });
    await ensureUserWithKey(pool, { id: 'usr_demo', email: 'demo@localhost', planId: 'pro_monthly', role: 'user', apiKey: keys.demo });
  } finally {
    await pool.end();
  }
  console.log('• database seeded (5 plans, admin, demo user)');

  const urls: Record<string, string> = {};
  for (const [name, port] of SERVICES) urls[name] = `http://127.0.0.1:${process.env[`${name.toUpperCase().replace(/-/g, '_')}_PORT`] ?? port}`;
  // Service credentials (SECURITY.md): fresh for every run unless set in the environment, and
  // each service given only those it sends or checks (serviceCredentialEnv), not the whole set.
  const tokens = generateServiceTokens();
  for (const variable of Object.values(SERVICE_CALLERS) as ServiceTokenVariable[]) if (process.env[variable]) tokens[variable] = process.env[variable]!;
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: infra.redisUrl,
    ADMIN_API_KEY: keys.admin,
    QUOTA_SERVICE_URL: urls['quota-service'],
    CACHE_SERVICE_URL: urls['cache-service'],
    ...(process.env.LLM_PROVIDER || process.env.OPENAI_API_KEY || process.env.ANTHROPIC_API_KEY ? {} : { LLM_PROVIDER: 'simulator', LLM_BASE_URL: `${urls['llm-simulator']}/v1` }),
  };
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\n• stopping services');
    await Promise.all(children.reverse().map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
    })));
    await infra.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    for (const [name, port] of SERVICES) {
      children.push(await startService(name, port, { ...env, ...serviceCredentialEnv(name, tokens) }));
      console.log(`• ${name} ready`);
    }
  } catch (err) {
    console.error(`✖ ${(err as Error).message}`);
    await stopAll(1);
    return;
  }
  for (const child of children) child.once('exit', (code) => { if (!stopping) { console.error(`✖ a service exited (${code}); stopping`); void stopAll(1); } });

  const api = urls['api-service'];
  const demo = await runDemo(api, keys.demo);
  console.log(`
Quota Vault is running.
  API:          ${api}        (docs: ${api}/docs)
  Console:      ${api}/console/   (sign in with a key below: the demo user's, or the admin key for the operator view)
  Admin key:    ${keys.admin}
  Metrics:      curl -s -H "Authorization: Bearer ${tokens.SERVICE_TOKEN_METRICS}" ${urls['enrichment-worker']}/metrics   (this run's credential)
  Demo user:    ${keys.demo}   (plan pro_monthly)
  Demo item:    ${demo}

  curl -s -X POST ${api}/v1/items -H "Authorization: Bearer ${keys.demo}" -H 'Content-Type: application/json' -d '{"content":"Hello world"}'
  curl -s ${api}/v1/quota -H "Authorization: Bearer ${keys.demo}"

Press Ctrl-C to stop.`);
}

async function runDemo(api: string, key: string): Promise<string> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const created = await fetch(`${api}/v1/items`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ title: 'Demo', content: 'Quota Vault sits between a product and its LLM provider. Every AI call is charged against the user plan before it is made, answered from a cache when that is safe, and settled to the exact token count in an append-only ledger.', tasks: ['summarize', 'tag', 'extract'] }),
  });
  const body = (await created.json()) as { item?: { id: string }; error?: { code: string } };
  if (!body.item) return `refused: ${JSON.stringify(body)}`;
  for (let i = 0; i < 100; i++) {
    const res = (await (await fetch(`${api}/v1/items/${body.item.id}`, { headers })).json()) as { item: { status: string; enrichment?: { summary?: string; tags?: string[] } } };
    if (res.item.status === 'DONE' || res.item.status === 'FAILED') {
      return `${body.item.id} ${res.item.status} — tags: ${res.item.enrichment?.tags?.join(', ') ?? '-'}`;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return `${body.item.id} still in progress`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
