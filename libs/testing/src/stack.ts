import { randomBytes } from 'node:crypto';
import { generateServiceTokens, serviceCredentialEnv, SERVICE_CALLERS, type ServiceCaller } from '@qv/http';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from './database';
import { testRedisUrl } from './env';
import { startService, type ServiceProcess } from './processes';
import { mergeStackOptions, type StackOptions } from './stack-options';

export const SERVICE_NAMES = ['llm-simulator', 'quota-service', 'cache-service', 'ledger-consumer', 'enrichment-worker', 'api-service'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface Stack {
  db: TestDatabase;
  redisPrefix: string;
  adminKey: string;
  /** This run's service credentials, by caller (SECURITY.md); `metrics` reads every /metrics. */
  credentials: Record<ServiceCaller, string>;
  /** Headers calling an internal route as `caller`, e.g. `fetch(url + '/metrics', { headers: stack.as('metrics') })`. */
  as: (caller: ServiceCaller) => Record<string, string>;
  services: Partial<Record<ServiceName, ServiceProcess>>;
  /** The api-service's base URL. */
  api: string;
  /** The environment each service got (for starting more copies: `startService(name, stack.envFor(name))`). */
  envFor: (name: ServiceName) => Record<string, string>;
  stop: () => Promise<void>;
}

export interface TestServiceCredentials {
  /** The credential of each caller (`api-service`, `enrichment-worker`, `metrics`). */
  credentials: Record<ServiceCaller, string>;
  /** The credential variables service `name` is given: the one it sends and those it checks. */
  envOf: (name: string) => Record<string, string>;
  /** Headers calling as `caller`: `{ authorization: 'Bearer …' }`. */
  as: (caller: ServiceCaller) => Record<string, string>;
}

/** A fresh set of service credentials (SECURITY.md), for a stack or for services a test starts itself. */
export function testServiceCredentials(): TestServiceCredentials {
  const tokens = generateServiceTokens();
  const credentials = Object.fromEntries(Object.entries(SERVICE_CALLERS).map(([caller, variable]) => [caller, tokens[variable]])) as Record<ServiceCaller, string>;
  return { credentials, envOf: (name) => serviceCredentialEnv(name, tokens), as: (caller) => ({ authorization: `Bearer ${credentials[caller]}` }) };
}

/**
 * The whole system as real processes on free ports, over a fresh database and Redis prefix:
 * each service gets the URLs of the ones it talks to. Several option sets (presets, then the
 * test's own) are merged, the later winning.
 */
export async function startStack(...optionSets: StackOptions[]): Promise<Stack> {
  const options = mergeStackOptions(...optionSets);
  const db = await createTestDatabase();
  const redisPrefix = testRedisPrefix();
  const adminKey = `qv_admin_${randomBytes(12).toString('hex')}`;
  // Fresh per stack, and each service given only the credentials it sends or checks.
  const { credentials, envOf, as } = testServiceCredentials();
  const services: Stack['services'] = {};
  const urls: Record<string, string> = {};
  const skip = new Set(options.skip ?? []);

  const envFor = (name: ServiceName): Record<string, string> => ({
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: redisPrefix,
    NODE_ENV: 'test',
    ADMIN_API_KEY: adminKey,
    LLM_PROVIDER: 'simulator',
    LLM_BASE_URL: `${urls['llm-simulator'] ?? 'http://127.0.0.1:9'}/v1`,
    QUOTA_SERVICE_URL: urls['quota-service'] ?? 'http://127.0.0.1:9',
    CACHE_SERVICE_URL: urls['cache-service'] ?? 'http://127.0.0.1:9',
    // Fast sweeps and short locks so recovery paths finish within a test.
    SWEEP_INTERVAL_MS: '500',
    DEAD_LETTER_SWEEP_MS: '500',
    OUTBOX_RELAY_INTERVAL_MS: '300',
    OUTBOX_RELAY_GRACE_MS: '500',
    RETRY_BASE_DELAY_MS: '100',
    // Tests read the cache's entry count right after a fill.
    CACHE_ENTRY_COUNT_MAX_AGE_MS: '0',
    // A machine loaded by other work serves one user's queued charges several times slower than a
    // quiet one; the production bounds (1.5 s / 1 s / 2 s) would refuse tests' ordinary concurrent
    // posts there. e2e/burst-fairness sets the production values back: it is the test of them.
    ACCEPT_ADMISSION_WAIT_MS: '9000',
    CHARGE_ADMISSION_WAIT_MS: '6000',
    QUOTA_TIMEOUT_MS: '8000',
    // Several stacks run at once (one per jest worker) against one PostgreSQL (max_connections
    // 100 by default): small pools keep them all under it.
    DB_POOL_SIZE: '4',
    ...envOf(name),
    ...options.env,
    ...options.serviceEnv?.[name],
  });

  try {
    // Leaves first, so every service starts knowing the URLs it calls.
    const first = SERVICE_NAMES.filter((n) => ['llm-simulator', 'quota-service', 'cache-service'].includes(n) && !skip.has(n));
    await Promise.all(first.map(async (name) => {
      services[name] = await startService(name, envFor(name));
      urls[name] = services[name]!.url;
    }));
    const rest = SERVICE_NAMES.filter((n) => !first.includes(n) && !skip.has(n));
    await Promise.all(rest.map(async (name) => {
      services[name] = await startService(name, envFor(name));
      urls[name] = services[name]!.url;
    }));
  } catch (err) {
    await Promise.all(Object.values(services).map((s) => s!.kill()));
    await db.drop();
    throw err;
  }

  return {
    db,
    redisPrefix,
    adminKey,
    credentials,
    as,
    services,
    api: urls['api-service'] ?? '',
    envFor,
    stop: async () => {
      await Promise.all(Object.values(services).map((s) => s!.stop(5000)));
      await db.drop();
    },
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
