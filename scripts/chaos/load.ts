import { randomUUID } from 'node:crypto';
import { sleep } from './ports';
import { Tally } from './tally';

/** A user of the run, on one plan, as a frontend holds it (its API key). */
export interface ChaosUser {
  id: string;
  key: string;
  plan: string;
}

export interface LoadOptions {
  apis: string[];
  adminKey: string;
  users: ChaosUser[];
  /** Clients issuing requests at once, each pausing 50–250 ms between two. */
  clients: number;
  stopAt: number;
  /** Every this many ms, replay up to three dead letters through the admin API. */
  replayEveryMs: number;
  tally: Tally;
  runId: string;
  /** False: no simulator fault directives in the mix (to tell the pipeline's recovery from the provider breaker's response to them). */
  llmFaults: boolean;
}

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

const WORDS = 'quota ledger cache worker provider token budget reservation settlement replica outage retry fairness tenant invoice summary notes meeting roadmap design customer release incident review latency'.split(' ');
const TASK_SETS: string[][] = [['summarize'], ['summarize', 'tag'], ['tag'], ['summarize', 'tag', 'extract']];
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

function prose(seed: number, sentences: number): string {
  const out: string[] = [];
  for (let s = 0; s < sentences; s++) {
    const n = 8 + ((seed + s * 7) % 9);
    const words = Array.from({ length: n }, (_, i) => WORDS[(seed * 31 + s * 17 + i * 13) % WORDS.length]);
    out.push(`${words[0][0].toUpperCase()}${words.join(' ').slice(1)}.`);
  }
  return out.join(' ');
}

/**
 * Mixed load from many users on every plan: new items, idempotent retries under one key, repeated
 * content on pro plans (cache hits), LLM faults through the simulator's directives, reads, and
 * dead-letter replays through the admin API. Every create carries an Idempotency-Key and is retried
 * under it after a lost answer, a 409 or a 5xx, as the project's client does.
 */
export class LoadDriver {
  private seq = 0;

  constructor(private readonly o: LoadOptions) {}

  async run(): Promise<void> {
    await Promise.all([...Array.from({ length: this.o.clients }, () => this.client()), this.replayer()]);
  }

  private async client(): Promise<void> {
    while (Date.now() < this.o.stopAt) {
      const user = pick(this.o.users);
      const roll = Math.random();
      try {
        if (roll < 0.45) await this.create(user, 'new', this.uniqueContent(), pick(TASK_SETS));
        else if (roll < 0.55) await this.idempotentRetry(user);
        else if (roll < 0.72) await this.repeatedContent(user);
        else if (roll < 0.83 && !this.o.llmFaults) await this.create(user, 'new', this.uniqueContent(), pick(TASK_SETS));
        else if (roll < 0.79) await this.create(user, 'flaky', `${this.uniqueContent()} [sim:fail_first=2]`, ['summarize', 'tag']);
        else if (roll < 0.83) await this.create(user, 'poison', `${this.uniqueContent()} [sim:fail_first=6]`, ['summarize']);
        else await this.read(user);
      } catch (err) {
        this.o.tally.count('driver', `error ${(err as Error).message.slice(0, 60)}`);
      }
      await sleep(50 + Math.random() * 200);
    }
  }

  private uniqueContent(): string {
    const n = ++this.seq;
    return `${prose(n, 3 + (n % 4))} Reference chaos-${this.o.runId}-${n}.`;
  }

  private async call(route: string, method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer | undefined> {
    const base = pick(this.o.apis);
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON
      }
      const code = res.status >= 400 ? ` ${parsed?.error?.code ?? ''}`.trimEnd() : '';
      this.o.tally.count(route, `${res.status}${code}`);
      return { status: res.status, body: parsed, headers: res.headers };
    } catch {
      this.o.tally.count(route, 'no answer');
      return undefined;
    }
  }

  /** POST /v1/items under one Idempotency-Key until an answer that is final; returns the item id when accepted. */
  private async create(user: ChaosUser, kind: string, content: string, tasks: string[], key = randomUUID()): Promise<string | undefined> {
    for (let attempt = 0; attempt < 6 && Date.now() < this.o.stopAt + 10_000; attempt++) {
      const started = performance.now();
      const res = await this.call('POST /v1/items', 'POST', '/v1/items', user.key, { content, tasks }, { 'idempotency-key': key });
      if (res?.status === 202) {
        this.o.tally.acceptMs.push(performance.now() - started);
        if (res.headers.get('idempotent-replayed') === 'true') this.o.tally.idempotentReplays++;
        const id = res.body.item.id as string;
        if (!this.o.tally.accepted.has(id)) this.o.tally.accepted.set(id, { userId: user.id, kind });
        return id;
      }
      if (res?.status === 429) {
        this.o.tally.refused(res.body?.error?.code ?? 'unknown');
        return undefined;
      }
      if (res && res.status < 500 && res.status !== 409) return undefined;
      await sleep(300 + Math.random() * 700);
    }
    return undefined;
  }

  /** The same create twice at once and once more after: one item, answered again with Idempotent-Replayed. */
  private async idempotentRetry(user: ChaosUser): Promise<void> {
    const key = randomUUID();
    const content = this.uniqueContent();
    const ids = await Promise.all([this.create(user, 'retry', content, ['tag'], key), this.create(user, 'retry', content, ['tag'], key)]);
    const again = await this.create(user, 'retry', content, ['tag'], key);
    const distinct = new Set([...ids, again].filter(Boolean));
    if (distinct.size > 1) this.o.tally.keysWithTwoItems.push(key);
  }

  /** Pro plans cache: one of two fixed texts per user, so most repeats are content-tier hits. */
  private async repeatedContent(user: ChaosUser): Promise<void> {
    if (!user.plan.startsWith('pro')) return void (await this.create(user, 'new', this.uniqueContent(), ['summarize']));
    const n = Math.floor(Math.random() * 2);
    await this.create(user, 'cached', `${prose(1000 + n, 4)} Shared text ${n} of ${user.id}.`, ['summarize', 'tag']);
  }

  private async read(user: ChaosUser): Promise<void> {
    const mine = [...this.o.tally.accepted].filter(([, a]) => a.userId === user.id).slice(-20);
    if (mine.length && Math.random() < 0.6) await this.call('GET /v1/items/:id', 'GET', `/v1/items/${pick(mine)[0]}`, user.key);
    else await this.call('GET /v1/quota', 'GET', '/v1/quota', user.key);
  }

  private async replayer(): Promise<void> {
    while (Date.now() < this.o.stopAt) {
      await sleep(this.o.replayEveryMs);
      const list = await this.call('GET /admin/dlq', 'GET', '/admin/dlq', this.o.adminKey);
      const jobs = (list?.status === 200 ? list.body.jobs : []) as Array<{ jobId: string; itemId: string }>;
      for (const job of jobs.slice(0, 3)) {
        this.o.tally.replays.requested++;
        const res = await this.call('POST /admin/dlq/:jobId/replay', 'POST', `/admin/dlq/${encodeURIComponent(job.jobId)}/replay`, this.o.adminKey, { chargeUser: Math.random() < 0.3 });
        if (res?.status === 202) {
          this.o.tally.replays.accepted++;
          this.o.tally.replayedItems.add(job.itemId);
        } else this.o.tally.replays.refused++;
      }
    }
  }
}
