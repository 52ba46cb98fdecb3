import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');

export interface ServiceProcess {
  name: string;
  port: number;
  url: string;
  /** The operations port (/metrics) of a service that has one apart from `port` (api-service: `ops <name> <port>`). */
  opsPort?: number;
  opsUrl?: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM and wait for exit (SIGKILL after `graceMs`). */
  stop: (graceMs?: number) => Promise<number | null>;
  /** SIGKILL: the process dies without any cleanup, as in a crash. */
  kill: () => Promise<void>;
}

/** A service's compiled entry: scripts/build-services.mjs bundles services/<name>/src/main.ts into it. */
export const serviceEntry = (name: string): string => join(ROOT, 'dist', name, 'main.js');

/**
 * Starts the service `name` (its compiled `dist/<name>/main.js`, built by scripts/test.ts or jest's
 * globalSetup) as its own process on a free port and resolves once it prints `ready <name> <port>`
 * (an `ops <name> <port>` line before it gives the operations port, OPS_PORT=0 here too).
 * Its output goes to .run/test-logs/ for post-mortems. A start takes well under 2 s on a quiet
 * machine; the default allowance is far above it because a machine loaded by other work (seen:
 * load 27 on 2 cores) can keep a new process from running at all for tens of seconds.
 */
export function startService(name: string, env: Record<string, string>, timeoutMs = 90_000): Promise<ServiceProcess> {
  const logDir = join(ROOT, '.run', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}.log`);
  const log = createWriteStream(logFile);
  // Plain `node` (no wrapper that forks): the pid is the service itself, so a SIGKILL in a crash
  // test really kills the service. Stack traces point into the TypeScript through the source map.
  const child = spawn(process.execPath, ['--enable-source-maps', serviceEntry(name)], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', OPS_PORT: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not become ready in ${timeoutMs} ms; see ${logFile}`));
    }, timeoutMs);
    const exitedEarly = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready; see ${logFile}`));
    };
    child.once('exit', exitedEarly);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffer += chunk.toString();
      const match = new RegExp(`^ready ${name} (\\d+)$`, 'm').exec(buffer);
      if (!match) return;
      clearTimeout(timer);
      // Only this listener: `exited`, which stop() and kill() await, listens for 'exit' too.
      child.off('exit', exitedEarly);
      // Printed before `ready`, so already in the buffer when the service has an operations port.
      const ops = new RegExp(`^ops ${name} (\\d+)$`, 'm').exec(buffer);
      const opsPort = ops ? Number(ops[1]) : undefined;
      buffer = '';
      const port = Number(match[1]);
      const stop = async (graceMs = 10_000) => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const timer2 = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer2);
        return code;
      };
      const kill = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await exited;
      };
      const opsUrl = opsPort === undefined ? undefined : `http://127.0.0.1:${opsPort}`;
      resolve({ name, port, url: `http://127.0.0.1:${port}`, opsPort, opsUrl, pid: child.pid!, child, logFile, stop, kill });
    });
  });
}

