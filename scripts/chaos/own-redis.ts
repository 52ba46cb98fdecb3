import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

/** A redis-server of this run's own, on a free port, with its files in a temp dir. */
export interface OwnRedis {
  url: string;
  /** A restart: SIGTERM (Redis writes its append-only file on the way down, as production's AOF does), then the same port again. */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * Runs with production's persistence (`appendonly yes`, `appendfsync everysec`, `noeviction`:
 * DESIGN.md §5), so a restart is a restart and not the loss of every queue.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'qv-chaos-redis-'));
  const port = await freePort();
  let child: ChildProcess = await launch(port, dir);
  const stopChild = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await stopChild();
      child = await launch(port, dir);
    },
    stop: async () => {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'];
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}: ${out}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve(child);
      }
    });
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`redis-server could not be started (${err.message}); install it (apt-get install redis-server)`)); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited with ${code}: ${out}`)); });
  });
}
