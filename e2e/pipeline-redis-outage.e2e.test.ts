import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { CreateItemResponse, QuotaStatus } from '@qv/contracts';
import { createUser, eventually, http, presets, startStack, type Stack } from '@qv/testing';

/**
 * Redis lost and restarted empty (no AOF, no RDB) while items are accepted, queued and in flight:
 * the api-service still accepts (the outbox keeps what it could not enqueue), and afterwards every
 * item ends DONE, each once in the ledger — the relay sends what was never sent and re-sends what
 * Redis lost. The machine's shared Redis cannot be restarted, so this file runs its own.
 */
describe('pipeline: Redis restarted under load', () => {
  let stack: Stack;
  let redis: ChildProcess | undefined;
  let port: number;
  const run = Date.now().toString(36);

  const startRedis = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve(child);
        }
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
  const stopRedis = async () => {
    const child = redis;
    redis = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    redis = await startRedis();
    stack = await startStack(presets.quickRetries, {
      env: { REDIS_URL: `redis://127.0.0.1:${port}` },
      serviceEnv: {
        'api-service': { ENQUEUE_TIMEOUT_MS: '300' },
        // Few slots, so most of the first batch is still waiting in Redis when it goes.
        'enrichment-worker': { QUEUE_CONCURRENCY: '2', CACHE_TIMEOUT_MS: '500' },
      },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
    await stopRedis();
  });

  it('accepts items while Redis is down and finishes every item once Redis is back', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { concurrentJobs: 100 });
    const post = (content: string) => http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content, tasks: ['summarize'] } });
    const ids: string[] = [];

    // Queued (and two in flight) when Redis dies.
    for (let i = 0; i < 10; i++) {
      const res = await post(`Queued before the outage, item ${i} of ${run}. [sim:latency_ms=800]`);
      expect(res.status).toBe(202);
      ids.push(res.body.item.id);
    }
    await stopRedis();

    // Accepted while Redis is down: the enqueue times out, the outbox row stays unsent. (The last
    // item before the outage may be unsent too: its answer did not wait for its enqueue.)
    const duringOutage: string[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await post(`Accepted during the outage, item ${i} of ${run}.`);
      expect(res.status).toBe(202);
      expect(res.body.item.status).toBe('PENDING');
      expect(Date.now() - started).toBeLessThan(3000);
      ids.push(res.body.item.id);
      duringOutage.push(res.body.item.id);
    }
    const [unsent] = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL AND item_id = ANY($1)`, [duringOutage]);
    expect(unsent.n).toBe(5);

    // Back on the same port, empty: whatever was queued is gone from Redis.
    redis = await startRedis();
    const statuses = await eventually(async () => {
      const rows = await stack.db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM items WHERE id = ANY($1) GROUP BY 1`, [ids]);
      return rows.length === 1 && rows[0].status === 'DONE' && rows[0].n === 15 ? rows : undefined;
    }, 40_000, 200);
    expect(statuses).toEqual([{ status: 'DONE', n: 15 }]);

    const ledger = await eventually(async () => {
      const rows = await stack.db.query<{ item_id: string; n: number }>(`SELECT item_id, count(*)::int AS n FROM ai_usage_ledger WHERE item_id = ANY($1) GROUP BY 1`, [ids]);
      return rows.length === 15 ? rows : undefined;
    }, 20_000);
    expect(ledger.every((r) => r.n === 1)).toBe(true);
    const [left] = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL AND item_id = ANY($1)`, [ids]);
    expect(left.n).toBe(0);
    const quota = (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas;
    expect(quota.enrichmentsPerDay.used).toBe(15);
    expect(quota.concurrentJobs.used).toBe(0);
  }, 90_000);
});
