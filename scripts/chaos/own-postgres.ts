import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, sleep } from './ports';

const PG_BIN = process.env.CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** The PostgreSQL a chaos run uses: its own cluster when it can have one, else a fresh database on the shared server. */
export interface ChaosPostgres {
  /** The run's database. */
  url: string;
  /** `own cluster on :port` or why it is not one. */
  description: string;
  /** Undefined when the server is shared: that one is never restarted. */
  restart?: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * A cluster of this run's own (initdb + pg_ctl into a temp dir, a free port), never the machine's
 * shared server. initdb refuses to run as root, so as root the cluster belongs to the `postgres`
 * user. Where initdb is missing the run says so and falls back to a fresh database on the server
 * of `fallbackServerUrl`, which it will not restart.
 */
export async function startChaosPostgres(fallbackServerUrl: string): Promise<ChaosPostgres> {
  const initdb = join(PG_BIN, 'initdb');
  if (!existsSync(initdb)) {
    console.log(`! ${initdb} is missing: no cluster of this run's own; using a fresh database on the shared server ${new URL(fallbackServerUrl).host}, and no PostgreSQL restart will be injected`);
    return freshDatabaseOn(fallbackServerUrl);
  }
  const dir = mkdtempSync(join(tmpdir(), 'qv-chaos-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const pgUser = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const uid = Number(pgUser.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (pgUser.status !== 0) throw new Error('running as root and there is no `postgres` user to own the chaos cluster (initdb refuses root)');
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const run = (cmd: string, args: string[], allowFail = false) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args]] as const : [join(PG_BIN, cmd), args] as const;
    const r = spawnSync(full[0], [...full[1]], { encoding: 'utf8' });
    if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r;
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  // Twelve services with their pools and the driver: well past the default 100 connections. No
  // fsync: the cluster lives for one run and the machine does not crash in it (a commit is still
  // written to the WAL before it is acknowledged, so a crash of the server loses nothing).
  const options = `-p ${port} -k ${dir} -h 127.0.0.1 -c max_connections=400 -c fsync=off`;
  const log = join(dir, 'postgres.log');
  const start = () => run('pg_ctl', ['-D', data, '-o', options, '-l', log, '-w', '-t', '60', 'start']);
  start();
  const serverUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const url = `postgresql://postgres@127.0.0.1:${port}/quota_vault`;
  await waitForPostgres(serverUrl);
  await adminQuery(serverUrl, 'CREATE DATABASE quota_vault');
  return {
    url,
    description: `own cluster (initdb, ${PG_BIN}) on 127.0.0.1:${port}`,
    // An immediate stop is a crash of the server (crash recovery at start); committed data survives it.
    restart: async () => {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], true);
      start();
      await waitForPostgres(serverUrl);
    },
    stop: async () => {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'], true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freshDatabaseOn(serverUrl: string): Promise<ChaosPostgres> {
  const name = `qv_chaos_${randomBytes(5).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    description: `fresh database ${name} on the shared server ${url.host} (initdb missing; no PostgreSQL restart)`,
    stop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function waitForPostgres(serverUrl: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${new URL(serverUrl).host} did not answer in ${timeoutMs} ms: ${(err as Error).message}`);
      await sleep(200);
    }
  }
}
