import { AppError } from '@qv/contracts';

export interface KeyedBatcherOptions {
  /** Most requests in one batch; 1 sends every request alone. */
  maxBatch: number;
  /** Batches (or lone requests) on their way at once; the rest gather for the next one. */
  maxInFlight: number;
}

/** One request's answer inside a batch's. */
export type BatchAnswer<R> = { value: R } | { error: unknown };

export interface KeyedBatcherPorts<Q, R> {
  /** The key no two batches in flight share (a user id). */
  key: (request: Q) => string;
  /** Decides the requests together, answering each in order. */
  sendBatch: (requests: Q[]) => Promise<Array<BatchAnswer<R>>>;
  /** Decides a request alone (the batch of one). */
  sendOne: (request: Q) => Promise<R>;
  /** Whether a batch that failed as a whole made none of its requests, so each may be sent again alone. */
  retryAlone: (err: unknown) => boolean;
}

interface Waiting<Q, R> {
  request: Q;
  resolve: (value: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: the requests that arrive while earlier ones are on their way go together, as one
 * statement and one commit (a round trip each saved), instead of one each. Alone (a quiet moment),
 * a request is sent at once by itself. What a batch decides is exactly what its requests decide
 * one after another: the batching only shares the round trip and the commit.
 *
 * A key is never in two batches at once: what arrives for it while one of its batches is on its way
 * waits for that batch's answer, so a batch never waits on a lock another batch of this process
 * holds, and one key's burst cannot make everyone else's batches queue behind its lock. Several
 * requests of one key may share a batch (decided one after another inside it). A batch that failed
 * as a whole (`retryAlone`) is sent again one by one, so one bad request fails alone; otherwise
 * every request of it fails with that error.
 */
export class KeyedBatcher<Q, R> {
  private waiting: Array<Waiting<Q, R>> = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly keysInFlight = new Set<string>();

  constructor(
    private readonly ports: KeyedBatcherPorts<Q, R>,
    private readonly options: KeyedBatcherOptions,
  ) {}

  run(request: Q): Promise<R> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /** At the end of this turn of the event loop: everything that arrived in it goes together. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch: Array<Waiting<Q, R>> = [];
      const keys = new Set<string>();
      const later: Array<Waiting<Q, R>> = [];
      for (const w of this.waiting) {
        const key = this.ports.key(w.request);
        if (batch.length < this.options.maxBatch && !this.keysInFlight.has(key)) {
          batch.push(w);
          keys.add(key);
        } else later.push(w);
      }
      this.waiting = later;
      if (batch.length === 0) return; // every waiting key has a batch on its way: their answers schedule the next flush
      void this.dispatch(batch, keys);
    }
  }

  private async dispatch(batch: Array<Waiting<Q, R>>, keys: Set<string>): Promise<void> {
    this.inFlight++;
    for (const key of keys) this.keysInFlight.add(key);
    try {
      if (batch.length === 1) await settle(batch[0], this.ports.sendOne(batch[0].request));
      else await this.sendTogether(batch);
    } finally {
      this.inFlight--;
      for (const key of keys) this.keysInFlight.delete(key);
      if (this.waiting.length > 0) this.schedule();
    }
  }

  private async sendTogether(batch: Array<Waiting<Q, R>>): Promise<void> {
    let answers: Array<BatchAnswer<R>>;
    try {
      answers = await this.ports.sendBatch(batch.map((w) => w.request));
    } catch (err) {
      if (!this.ports.retryAlone(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      await Promise.all(batch.map((w) => settle(w, this.ports.sendOne(w.request))));
      return;
    }
    if (answers.length !== batch.length) {
      const err = new AppError('INTERNAL', `a batch of ${batch.length} was answered ${answers.length} times`);
      for (const w of batch) w.reject(err);
      return;
    }
    answers.forEach((answer, i) => ('value' in answer ? batch[i].resolve(answer.value) : batch[i].reject(answer.error)));
  }
}

async function settle<Q, R>(w: Waiting<Q, R>, answer: Promise<R>): Promise<void> {
  try {
    w.resolve(await answer);
  } catch (err) {
    w.reject(err);
  }
}
