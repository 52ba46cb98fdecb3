import { AppError } from '@qv/contracts';

export interface KeyedGateOptions {
  /** Calls of one key running at once; the rest wait in that key's line. */
  maxActive: number;
  /** Calls of one key allowed to wait; one more is refused at once. */
  maxQueued: number;
  /** Longest wait in the line; a call still waiting then is refused (before its caller times out). */
  maxWaitMs: number;
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

interface Line {
  active: number;
  waiting: Waiter[];
}

/**
 * Admission per key (a user id): one key's burst waits in its own line and is refused with 429
 * `USER_REQUEST_RATE_EXCEEDED` past `maxQueued` or `maxWaitMs`, so it never takes more than
 * `maxActive` of the shared resources behind (sockets, pooled connections) and other keys' calls
 * never queue behind it. In-process, per replica; memory is bounded by the keys in flight.
 */
export class KeyedGate {
  private readonly lines = new Map<string, Line>();

  constructor(private readonly options: KeyedGateOptions) {}

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    await this.admit(key);
    try {
      return await work();
    } finally {
      this.leave(key);
    }
  }

  /** True when a call of `key` now would be refused at once (its line is full): the caller may answer without calling `run`. */
  refusesAtOnce(key: string): boolean {
    const line = this.lines.get(key);
    return line !== undefined && line.active >= this.options.maxActive && line.waiting.length >= this.options.maxQueued;
  }

  /** Calls of `key` running and waiting now (for tests and metrics). */
  load(key: string): { active: number; waiting: number } {
    const line = this.lines.get(key);
    return { active: line?.active ?? 0, waiting: line?.waiting.length ?? 0 };
  }

  private admit(key: string): Promise<void> {
    let line = this.lines.get(key);
    if (!line) {
      line = { active: 0, waiting: [] };
      this.lines.set(key, line);
    }
    if (line.active < this.options.maxActive) {
      line.active++;
      return Promise.resolve();
    }
    if (line.waiting.length >= this.options.maxQueued) return Promise.reject(lineFull());
    const current = line;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          // The slot is this waiter's from now on: its deadline no longer applies.
          clearTimeout(waiter.timer);
          setImmediate(resolve);
        },
        timer: setTimeout(() => {
          const at = current.waiting.indexOf(waiter);
          if (at >= 0) current.waiting.splice(at, 1);
          this.dropIfIdle(key, current);
          reject(refusal('this user\'s earlier requests are still being charged'));
        }, this.options.maxWaitMs),
      };
      current.waiting.push(waiter);
    });
  }

  private leave(key: string): void {
    const line = this.lines.get(key);
    if (!line) return;
    const next = line.waiting.shift();
    // The slot passes straight to the next waiter (`active` stays as it is), on the next turn of the
    // event loop: handed over in the same turn, a line whose calls end at once (a burst all refused)
    // would run to its end as one chain of microtasks, and every other request waits behind it.
    if (next) next.start();
    else {
      line.active--;
      this.dropIfIdle(key, line);
    }
  }

  private dropIfIdle(key: string, line: Line): void {
    if (line.active === 0 && line.waiting.length === 0 && this.lines.get(key) === line) this.lines.delete(key);
  }
}

/** The refusal of a call whose line is full. */
export const lineFull = (): AppError => refusal('too many requests of this user are waiting');

function refusal(why: string): AppError {
  return new AppError('USER_REQUEST_RATE_EXCEEDED', `Too many requests at once for this user (${why}); slow down`, { retryAfterSeconds: 1 });
}
