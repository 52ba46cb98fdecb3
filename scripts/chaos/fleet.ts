import { readFileSync } from 'node:fs';
import { startService, type ServiceProcess } from '@qv/testing';
import { sleep } from './ports';

/** One replica of a service: restarted on its own port, so whoever calls it keeps its URL. */
export interface Replica {
  name: string;
  index: number;
  port: number;
  url: string;
  process: ServiceProcess;
}

/** A process that exited when nothing of the run asked it to: a finding, with the end of its log. */
export interface UnexpectedExit {
  service: string;
  index: number;
  pid: number;
  code: number | null;
  signal: string | null;
  atMs: number;
  logTail: string;
}

/**
 * The replicas of every service, each started from its compiled bundle (libs/testing startService),
 * supervised as an orchestrator would: a process that dies on its own is recorded (with the end of
 * its log, read at once: other test runs clear .run/test-logs) and started again on its port.
 */
export class Fleet {
  readonly replicas: Replica[] = [];
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly intended = new Set<number>();
  private stopping = false;

  constructor(private readonly envFor: (name: string) => Record<string, string>) {}

  async start(name: string, count: number): Promise<Replica[]> {
    const base = this.of(name).length;
    const started = await Promise.all(Array.from({ length: count }, async (_, i) => {
      const process = await startService(name, this.envFor(name), 60_000);
      const replica: Replica = { name, index: base + i, port: process.port, url: process.url, process };
      this.supervise(replica);
      return replica;
    }));
    this.replicas.push(...started);
    return started;
  }

  of(name: string): Replica[] {
    return this.replicas.filter((r) => r.name === name);
  }

  /** kill -9 (no cleanup, as in a crash), then the same service again on the same port. */
  async crashAndRestart(replica: Replica): Promise<void> {
    this.intended.add(replica.process.pid);
    await replica.process.kill();
    await this.restart(replica);
  }

  /** SIGSTOP for `ms`, then SIGCONT: the process is alive, holds its sockets, answers nothing. */
  async pause(replica: Replica, ms: number): Promise<void> {
    const pid = replica.process.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(ms);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.replicas.map((r) => r.process.stop(5000)));
  }

  private async restart(replica: Replica): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        replica.process = await startService(replica.name, { ...this.envFor(replica.name), PORT: String(replica.port) }, 60_000);
        this.supervise(replica);
        return;
      } catch (err) {
        // The port may still be held for a moment by the dead process's sockets.
        if (attempt >= 5) throw err;
        await sleep(500);
      }
    }
  }

  private supervise(replica: Replica): void {
    const proc = replica.process;
    proc.child.once('exit', (code, signal) => {
      if (this.stopping || this.intended.delete(proc.pid)) return;
      let logTail = '';
      try {
        const log = readFileSync(proc.logFile, 'utf8');
        // From the first uncaught error when there is one: a crash dump ends with pages of object state.
        const crash = log.search(/^(node:internal|node:events|Error|\w*Error:)/m);
        logTail = (crash >= 0 ? log.slice(crash) : log.slice(-2000)).slice(0, 2000);
      } catch {
        logTail = '(log already removed)';
      }
      this.unexpectedExits.push({ service: replica.name, index: replica.index, pid: proc.pid, code, signal, atMs: Date.now(), logTail });
      console.log(`  ! ${replica.name} replica ${replica.index} (pid ${proc.pid}) exited on its own (code ${code}, signal ${signal}); restarting it. Log ends:\n${logTail.split('\n').slice(0, 12).join('\n')}`);
      void this.restart(replica).catch((err) => console.log(`  ! restarting ${replica.name} replica ${replica.index} failed: ${(err as Error).message}`));
    });
  }
}
