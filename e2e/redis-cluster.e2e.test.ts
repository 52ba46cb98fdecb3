import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bullPrefix, createRedis, mastersOf, type Redis } from '@qv/queue';
import type { CachePurgeResponse, CacheStats, CreateItemResponse, DlqJobsResponse, ItemStatus, ReconciliationResponse, ReplayResult, UsagePage } from '@qv/contracts';
import { createUser, eventually, http, presets, startStack, waitForItem, type Stack } from '@qv/testing';

/**
 * The pipeline on a Redis Cluster (issue 14, DESIGN.md §10): three masters started here, every
 * service given `REDIS_URL=redis-cluster://…`. Items reach DONE, the cache hits, counts and purges
 * across the nodes, a dead letter is replayed, and every BullMQ key of the deployment shares one
 * slot (the `{bull}` hash tag).
 */

/** A port free now whose cluster bus port (port + 10000) is free too. */
async function freePortPair(): Promise<number> {
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address() as { port: number };
        server.close(() => resolve(bound));
      });
    });
  for (;;) {
    const port = await listen(0);
    if (port + 10000 > 65535) continue;
    try {
      await listen(port + 10000);
      return port;
    } catch {
      // bus port taken: another pair
    }
  }
}

interface LocalCluster {
  ports: number[];
  url: string;
  stop: () => Promise<void>;
}

async function startRedisCluster(size = 3): Promise<LocalCluster> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not on the PATH: this test starts its own cluster nodes (Debian: apt-get install redis-server)');
  const ports: number[] = [];
  while (ports.length < size) {
    const port = await freePortPair();
    if (!ports.includes(port)) ports.push(port);
  }
  const dirs = ports.map((port) => mkdtempSync(join(tmpdir(), `qv-redis-cluster-${port}-`)));
  const servers: ChildProcess[] = ports.map((port, i) =>
    spawn('redis-server', ['--cluster-enabled', 'yes', '--port', String(port), '--bind', '127.0.0.1', '--cluster-config-file', join(dirs[i], 'nodes.conf'), '--dir', dirs[i], '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' }),
  );
  const stop = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      if (s.exitCode !== null || s.signalCode !== null) return resolve();
      s.once('exit', () => resolve());
      s.kill('SIGTERM');
    })));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const cli = (port: number, ...args: string[]) => spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
    await eventually(async () => ports.every((port) => cli(port, 'ping').stdout.trim() === 'PONG'), 10_000);
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await eventually(async () => ports.every((port) => cli(port, 'cluster', 'info').stdout.includes('cluster_state:ok')), 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, url: `redis-cluster://127.0.0.1:${ports[0]}/?nodes=${ports.slice(1).map((p) => `127.0.0.1:${p}`).join(',')}`, stop };
}

/** Every key of the deployment, per master node. */
async function keysPerNode(redis: Redis, pattern: string): Promise<string[][]> {
  return Promise.all(
    mastersOf(redis).map(async (node) => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      return keys;
    }),
  );
}

describe('the pipeline on a 3-node Redis Cluster', () => {
  let cluster: LocalCluster | undefined;
  let stack: Stack | undefined;
  let redis: Redis | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    stack = await startStack(presets.quickRetries, presets.circuitStaysClosed, {
      env: { REDIS_URL: cluster.url },
      serviceEnv: { 'enrichment-worker': { QUEUE_CONCURRENCY: '8' } },
    });
    redis = createRedis(cluster.url);
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
    await cluster?.stop();
  });

  const itemIn = (key: string, id: string, until: ItemStatus[]) => waitForItem(stack!.api, key, id, { until });
  const enrich = async (key: string, body: Record<string, unknown>) => {
    const res = await http<CreateItemResponse>('POST', `${stack!.api}/v1/items`, { key, body });
    expect(res.status).toBe(202);
    return itemIn(key, res.body.item.id, ['DONE', 'FAILED']);
  };

  it('items reach DONE and settle; the cache hits, counts and purges across the nodes', async () => {
    const s = stack!;
    const user = await createUser(s.api, s.adminKey, 'pro_monthly');
    const started = performance.now();
    const items = await Promise.all([0, 1, 2, 3, 4].map((i) => enrich(user.key, { content: `Item ${i} on a cluster. Queues keep one slot, cache entries spread.`, tasks: ['summarize', 'tag'] })));
    console.log(`5 items DONE on the cluster in ${Math.round(performance.now() - started)} ms`);
    for (const item of items) expect(item).toMatchObject({ status: 'DONE', enrichment: { cached: false } });

    const again = await enrich(user.key, { content: 'Item 0 on a cluster. Queues keep one slot, cache entries spread.', tasks: ['summarize', 'tag'] });
    expect(again.enrichment).toMatchObject({ cached: true, summary: items[0].enrichment?.summary, promptTokens: 0, completionTokens: 0 });
    const stats = (await http<CacheStats>('GET', `${s.api}/admin/cache/stats`, { key: s.adminKey })).body;
    expect(stats.tiers.content.hits).toBeGreaterThanOrEqual(2);
    expect(stats.tiers.content.tokensSaved).toBeGreaterThan(0);

    const entries = await eventually(async () => {
      const usage = (await http<UsagePage>('GET', `${s.api}/v1/usage`, { key: user.key })).body.entries;
      return usage.length === 6 ? usage : undefined;
    });
    expect(entries.filter((e) => e.cacheHit)).toHaveLength(1);
    const drift = (await http<ReconciliationResponse>('GET', `${s.api}/admin/reconciliation`, { key: s.adminKey })).body.rows.filter((r) => r.userId === user.id);
    for (const row of drift) expect(row.drift).toBe(0);

    // Purge scans every master; the next identical item is a miss.
    const cacheKeys = (await keysPerNode(redis!, `${s.redisPrefix}:cache:content:${user.id}:*`)).flat();
    console.log(`content entries of the user per node: ${(await keysPerNode(redis!, `${s.redisPrefix}:cache:content:${user.id}:*`)).map((k) => k.length).join(', ')}`);
    expect(cacheKeys.length).toBeGreaterThan(0);
    const purged = await http<CachePurgeResponse>('POST', `${s.api}/admin/cache/purge`, { key: s.adminKey, body: { tier: 'content', userId: user.id } });
    expect(purged.status).toBe(200);
    expect(purged.body.purged).toBeGreaterThanOrEqual(cacheKeys.length);
    expect((await keysPerNode(redis!, `${s.redisPrefix}:cache:content:${user.id}:*`)).flat()).toEqual([]);
    expect((await enrich(user.key, { content: 'Item 0 on a cluster. Queues keep one slot, cache entries spread.', tasks: ['summarize', 'tag'] })).enrichment?.cached).toBe(false);
  });

  it('a dead letter and its replay', async () => {
    const s = stack!;
    const user = await createUser(s.api, s.adminKey, 'free');
    // Every call fails until T: five quick attempts die before it, the replay after it succeeds.
    const until = Date.now() + 4000;
    const created = await http<CreateItemResponse>('POST', `${s.api}/v1/items`, { key: user.key, body: { content: `An outage on a cluster. cluster-dlq-${until} [sim:fail_until=${until}]`, tasks: ['summarize'] } });
    expect(created.status).toBe(202);
    const id = created.body.item.id;
    await itemIn(user.key, id, ['FAILED']);
    const dead = await eventually(async () => (await http<DlqJobsResponse>('GET', `${s.api}/admin/dlq`, { key: s.adminKey })).body.jobs.find((j) => j.jobId === id));
    expect(dead).toMatchObject({ jobId: id, itemId: id, userId: user.id, attemptsMade: 5 });

    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 100)));
    const replay = await http<ReplayResult>('POST', `${s.api}/admin/dlq/${id}/replay`, { key: s.adminKey, body: {} });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ jobId: id, charged: false });
    const done = await itemIn(user.key, id, ['DONE']);
    expect(done.enrichment?.summary?.length).toBeGreaterThan(0);
    const usage = await eventually(async () => {
      const entries = (await http<UsagePage>('GET', `${s.api}/v1/usage`, { key: user.key })).body.entries;
      return entries.some((e) => e.kind === 'completed') ? entries : undefined;
    });
    expect(usage.find((e) => e.kind === 'completed')).toMatchObject({ itemId: id, charged: false });
  });

  it('keeps every BullMQ key in one slot, throttles wrong keys, and no service met a CROSSSLOT error', async () => {
    const s = stack!;
    // A wrong key goes through the auth throttle's script on the cluster.
    expect((await http('GET', `${s.api}/v1/quota`, { key: 'qv_wrong_key_for_the_cluster_test' })).status).toBe(401);

    const perNode = await keysPerNode(redis!, `${s.redisPrefix}:*`);
    const all = perNode.flat();
    const bull = all.filter((k) => k.startsWith(`${bullPrefix(s.redisPrefix)}:`));
    console.log(`keys per node: ${perNode.map((k) => k.length).join(', ')}; BullMQ keys: ${bull.length}`);
    expect(bull.some((k) => k.includes(':enrichment:'))).toBe(true);
    expect(bull.some((k) => k.includes(':usage-events:'))).toBe(true);
    const slots = new Set(await Promise.all(bull.map((k) => redis!.cluster('KEYSLOT', k))));
    expect(slots.size).toBe(1);
    // Every key of the deployment is one of the known families.
    const families = new Set(all.map((k) => k.slice(s.redisPrefix.length + 1).split(':')[0]));
    console.log(`key families: ${[...families].sort().join(', ')}`);
    for (const family of families) expect(['{bull}', 'cache', 'cache-lease', 'cache-stats', 'cache-complete', 'auth']).toContain(family);

    for (const service of Object.values(s.services)) expect({ service: service!.name, crossSlot: readFileSync(service!.logFile, 'utf8').includes('CROSSSLOT') }).toEqual({ service: service!.name, crossSlot: false });
  });
});
