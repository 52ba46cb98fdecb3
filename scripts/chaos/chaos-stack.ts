import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { runMigrations, seedPlans } from '@qv/db';
import { testServiceCredentials, type TestServiceCredentials } from '@qv/testing';
import { RoundRobinBalancer } from './balancer';
import { Fleet } from './fleet';
import { startChaosPostgres, type ChaosPostgres } from './own-postgres';
import { startOwnRedis, type OwnRedis } from './own-redis';

/** How many processes of each service a chaos run starts (issue 12: ≥ 2 api, 3 quota, 3 workers, 2 ledger). */
export const REPLICAS = {
  'llm-simulator': 1,
  'cache-service': 1,
  'quota-service': 3,
  'ledger-consumer': 2,
  'enrichment-worker': 3,
  'api-service': 2,
} as const;
export type ChaosService = keyof typeof REPLICAS;

export interface ChaosStack {
  pg: ChaosPostgres;
  redis: OwnRedis;
  fleet: Fleet;
  credentials: TestServiceCredentials;
  adminKey: string;
  /** The api-service replicas' base URLs (the driver spreads over them, as a load balancer would). */
  apis: string[];
  simulator: string;
  /** api-service's QUOTA_TIMEOUT_MS: a pause of quota-service longer than this is what the fault is. */
  quotaTimeoutMs: number;
  stop: () => Promise<void>;
}

/**
 * Knobs a chaos run turns so that recovery finishes inside the run rather than in production's
 * minutes: stall detection, orphan sweeps and the in-progress lock of an Idempotency-Key. Each is a
 * documented variable of the service; none changes a rule.
 */
const RECOVERY_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
  SWEEP_INTERVAL_MS: '1000',
  ORPHAN_GRACE_SECONDS: '15',
  DEAD_LETTER_SWEEP_MS: '1000',
  OUTBOX_RELAY_INTERVAL_MS: '500',
  OUTBOX_RELAY_GRACE_MS: '1000',
  IDEMPOTENCY_LOCK_SECONDS: '5',
  RETRY_BASE_DELAY_MS: '200',
  QUEUE_LOCK_MS: '8000',
  QUEUE_STALL_CHECK_INTERVAL_MS: '5000',
  DB_POOL_SIZE: '8',
};

/** Starts everything a chaos run needs, all its own: PostgreSQL, Redis, and the six services with replicas. */
export async function startChaosStack(options: { fallbackPgServerUrl: string; extraEnv?: Record<string, string> }): Promise<ChaosStack> {
  const started: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const stop of started.reverse()) await stop().catch((err) => console.error(`! cleanup: ${(err as Error).message}`));
  };
  try {
    const pg = await startChaosPostgres(options.fallbackPgServerUrl);
    started.push(pg.stop);
    const redis = await startOwnRedis();
    started.push(redis.stop);
    await runMigrations(pg.url);
    const seeding = new Pool({ connectionString: pg.url, max: 1 });
    await seedPlans(seeding).finally(() => seeding.end());

    const credentials = testServiceCredentials();
    const adminKey = `qv_admin_${randomBytes(12).toString('hex')}`;
    const urls: Record<string, string> = {};
    const quotaTimeoutMs = 2000;
    const envFor = (name: string): Record<string, string> => ({
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'qv',
      ADMIN_API_KEY: adminKey,
      LLM_PROVIDER: 'simulator',
      LLM_BASE_URL: `${urls['llm-simulator']}/v1`,
      QUOTA_SERVICE_URL: urls['quota-service'] ?? 'http://127.0.0.1:9',
      CACHE_SERVICE_URL: urls['cache-service'] ?? 'http://127.0.0.1:9',
      QUOTA_TIMEOUT_MS: String(quotaTimeoutMs),
      ...RECOVERY_ENV,
      ...credentials.envOf(name),
      ...options.extraEnv,
    });
    const fleet = new Fleet(envFor);
    started.push(() => fleet.stop());

    const [sim] = await fleet.start('llm-simulator', REPLICAS['llm-simulator']);
    urls['llm-simulator'] = sim.url;
    const [cache] = await fleet.start('cache-service', REPLICAS['cache-service']);
    urls['cache-service'] = cache.url;
    const quotas = await fleet.start('quota-service', REPLICAS['quota-service']);
    const balancer = new RoundRobinBalancer(() => quotas.map((q) => q.port));
    urls['quota-service'] = `http://127.0.0.1:${await balancer.listen()}`;
    started.push(() => balancer.close());
    await fleet.start('ledger-consumer', REPLICAS['ledger-consumer']);
    await fleet.start('enrichment-worker', REPLICAS['enrichment-worker']);
    const apis = await fleet.start('api-service', REPLICAS['api-service']);

    return { pg, redis, fleet, credentials, adminKey, apis: apis.map((a) => a.url), simulator: sim.url, quotaTimeoutMs, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
