import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

export { Cluster, Redis };

/**
 * A Redis Cluster is named by REDIS_URL with the scheme `redis-cluster://`: one seed node in the
 * authority (with the credentials every node takes), more seeds, optionally, in `?nodes=h:p,h:p`.
 * One seed is enough (ioredis learns the rest from CLUSTER SLOTS); more let a process start while
 * that one node is down. Any other URL is one Redis server.
 */
export interface ClusterSeeds {
  nodes: ClusterNode[];
  username?: string;
  password?: string;
}

/** The seeds of a `redis-cluster://` URL, or undefined for a single-server URL. */
export function parseClusterUrl(url: string): ClusterSeeds | undefined {
  if (!url.startsWith('redis-cluster://')) return undefined;
  const parsed = new URL(url);
  const hostPort = (spec: string): ClusterNode => {
    const at = spec.lastIndexOf(':');
    return at > 0 ? { host: spec.slice(0, at), port: Number(spec.slice(at + 1)) } : { host: spec, port: 6379 };
  };
  const nodes = [hostPort(parsed.host), ...(parsed.searchParams.get('nodes') ?? '').split(',').filter(Boolean).map(hostPort)];
  return {
    nodes,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
  };
}

/** The options that belong to the cluster client itself; every other option applies to each node's connection. */
const CLUSTER_LEVEL = ['enableOfflineQueue', 'enableAutoPipelining', 'enableReadyCheck', 'lazyConnect'] as const;

/**
 * A Cluster client where `url` names a cluster, typed as the `Redis` every caller holds: a Cluster
 * takes the same commands (routing each to the node owning its key's slot), events, `quit` and
 * `disconnect`. What differs is the key space being split: a multi-key command or script must keep
 * its keys in one slot (hash tags: libs/queue's BullMQ prefix), and a SCAN covers one node
 * (`mastersOf`).
 */
function connect(url: string, options: RedisOptions): Redis {
  const seeds = parseClusterUrl(url);
  if (!seeds) return new Redis(url, options);
  const redisOptions: RedisOptions = { ...options, username: seeds.username, password: seeds.password };
  const clusterOptions: Record<string, unknown> = {};
  for (const key of CLUSTER_LEVEL) {
    if (key in redisOptions) clusterOptions[key] = redisOptions[key];
    delete redisOptions[key];
  }
  return new Cluster(seeds.nodes, { ...clusterOptions, redisOptions }) as unknown as Redis;
}

/**
 * A Redis connection. BullMQ workers need `maxRetriesPerRequest: null` (a blocking command must
 * not fail after N retries); producers use the same so an enqueue during a Redis blip waits
 * for the reconnect instead of throwing, bounded by the caller's own timeout.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return connect(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...options });
}

/** A connection for short request/response use (the cache, counters): fails fast when Redis is down. */
export function createFastRedis(url: string, options: RedisOptions = {}): Redis {
  return connect(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000, ...options });
}

/** True when `redis` is a Cluster client (createRedis of a `redis-cluster://` URL). */
export function isCluster(redis: Redis | Cluster): boolean {
  return redis instanceof Cluster;
}

/** The connections a node-local command (SCAN, DBSIZE) must visit: every master of a cluster, or the one server. */
export function mastersOf(redis: Redis | Cluster): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}
