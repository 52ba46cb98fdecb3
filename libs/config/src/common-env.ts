import { z } from 'zod';
import { port, positiveInt, url } from './fields';

/** Variables every service reads (llm-simulator, which keeps no state, picks those it needs). */
export const commonEnv = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development').describe('`development`, `test` or `production`; `production` requires the service credentials (SECURITY.md)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`'),
  DATABASE_URL: url('postgresql://postgres@127.0.0.1:5432/quota_vault').describe('PostgreSQL'),
  REDIS_URL: url('redis://127.0.0.1:6379').describe(
    'Redis (queues, cache, counters); `redis-cluster://[user:pass@]host:port[?nodes=host:port,…]` for a Redis Cluster (see *Past one machine*)',
  ),
  REDIS_PREFIX: z.string().min(1).default('qv').describe('prefix of every Redis key and BullMQ queue (tests give each file its own)'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url()
    .optional()
    .describe('turns tracing on: OTLP/HTTP JSON to `<endpoint>/v1/traces`; unset, no tracing code is loaded at all, spans still carry ids into the logs (see *Tracing*)'),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000).describe('deadline of a graceful stop, after which the process exits anyway'),
  HOST: z.string().min(1).default('127.0.0.1').describe('interface the HTTP servers bind (`0.0.0.0` in containers)'),
  HEAP_GROWTH_PERCENT: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(60)
    .describe("how far V8's old generation may grow past the last full collection's live set before the next, in %; `0` leaves V8's own factor (up to 4×). At 60 % api-service ends `npm run bench -- api` near 150 MB resident instead of 185–220 (*Benchmarks*)"),
};

/** The service's HTTP port, each service with its own default. */
export const portEnv = (fallback: number) => ({
  PORT: port(fallback).describe(
    'HTTP port: the API (api-service), the internal API (quota-service, cache-service, llm-simulator), or `/healthz`, `/readyz` and `/metrics` only (enrichment-worker, ledger-consumer); `npm start` also reads `<SERVICE>_PORT`, e.g. `API_SERVICE_PORT`',
  ),
});
