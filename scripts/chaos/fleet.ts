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

/** The replicas of every service, each started from its compiled bundle (libs/testing startService). */
export class Fleet {
  readonly replicas: Replica[] = [];

  constructor(private readonly envFor: (name: string) => Record<string, string>) {}

  async start(name: string, count: number): Promise<Replica[]> {
    const started = await Promise.all(Array.from({ length: count }, async (_, i) => {
      const process = await startService(name, this.envFor(name), 60_000);
      const replica: Replica = { name, index: this.replicas.filter((r) => r.name === name).length + i, port: process.port, url: process.url, process };
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
    await replica.process.kill();
    for (let attempt = 0; ; attempt++) {
      try {
        replica.process = await startService(replica.name, { ...this.envFor(replica.name), PORT: String(replica.port) }, 60_000);
        return;
      } catch (err) {
        // The port may still be held for a moment by the dead process's sockets.
        if (attempt >= 5) throw err;
        await sleep(500);
      }
    }
  }

  /** SIGSTOP for `ms`, then SIGCONT: the process is alive, holds its sockets, answers nothing. */
  async pause(replica: Replica, ms: number): Promise<void> {
    process.kill(replica.process.pid, 'SIGSTOP');
    try {
      await sleep(ms);
    } finally {
      process.kill(replica.process.pid, 'SIGCONT');
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.process.stop(5000)));
  }
}
