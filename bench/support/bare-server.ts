import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Starts bench/support/bare-express.ts as its own process; resolves with its URL, pid and a stop. */
export function startBareExpress(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'bare-express.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare express exited ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /ready bare (\d+)/.exec(chunk.toString());
      if (match) resolve({ url: `http://127.0.0.1:${match[1]}`, pid: child.pid!, stop: () => child.kill('SIGTERM') });
    });
  });
}
