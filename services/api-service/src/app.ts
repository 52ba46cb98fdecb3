import type { Pool } from 'pg';
import { createHttpApp, errorMiddleware, KeyedGate, notFoundHandler, type KeyedGateOptions, type ReadinessCheck } from '@qv/http';
import type { Registry } from '@qv/telemetry';
import type { Express, Router } from 'express';
import type { Logger } from 'pino';
import type { ItemWriter } from './repositories/items.repository';
import type { OutboxPublisher } from './repositories/outbox.publisher';
import type { QuotaClient } from './repositories/quota.client';
import type { PrincipalResolver } from './repositories/auth.repository';
import type { AuthFailureThrottle } from './repositories/auth-throttle';
import { authenticate, requireAdmin } from './routes/auth.middleware';
import { consoleRoutes } from './routes/console.routes';
import { cors, type CorsOptions } from './routes/cors.middleware';
import { adminPlansRoutes } from './routes/admin/plans.routes';
import { adminKeysRoutes } from './routes/admin/keys.routes';
import { adminUsersRoutes } from './routes/admin/users.routes';
import { itemsRoutes } from './routes/items.routes';
import { quotaRoutes } from './routes/quota.routes';
import { usageRoutes } from './routes/usage.routes';

export interface ApiDeps {
  /** node-postgres: every route's statements (the schema and its types are Prisma's; the client is not loaded). */
  db: Pool;
  /** Batches the accept path's writes (each goes through `db` alone when absent). */
  itemWriter?: ItemWriter;
  principals: PrincipalResolver;
  /** Failed authentications per client (429 AUTH_RATE_LIMITED past the limit); absent: not throttled. */
  authThrottle?: AuthFailureThrottle;
  /** Browser pages allowed to call the API; absent or no origins: no CORS headers at all. */
  cors?: CorsOptions;
  quota: QuotaClient;
  outbox: OutboxPublisher;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  bodyLimit: string;
  idempotency: { ttlHours: number; lockSeconds: number };
  /** Admission of one user's concurrent accepts on this replica (see KeyedGate). */
  acceptAdmission?: KeyedGateOptions;
  /** The gate itself, when the caller shares it (main.ts: with the early refusals); else one is built from `acceptAdmission`. */
  acceptGate?: KeyedGate;
  /** Admin routes added by other modules (dead letters, cache, reconciliation). */
  adminRouters?: Router[];
  /** Public routes that need no key (OpenAPI, docs). */
  publicRouters?: Router[];
  /**
   * Routes under /v1 that authenticate each call themselves (the OpenAI-compatible path, whose
   * errors have their own shape): mounted ahead of /v1's authentication.
   */
  selfAuthenticatingRouters?: Router[];
}

/**
 * Eight accepts of one user at a time per replica, the rest waiting up to 1.5 s (under the 2 s
 * quota timeout plus the accept's own work): one key's burst then holds at most eight of the sockets
 * to quota-service, and the others' requests never queue behind it.
 */
export const DEFAULT_ACCEPT_ADMISSION: KeyedGateOptions = { maxActive: 8, maxQueued: 256, maxWaitMs: 1500 };

export function createApp(deps: ApiDeps): Express {
  // /metrics is not on the public port: main.ts serves it on OPS_PORT (404 here).
  const app = createHttpApp({ service: 'api-service', logger: deps.logger, metrics: deps.metrics, readiness: deps.readiness, bodyLimit: deps.bodyLimit, metricsRoute: false });
  // Before authentication: a preflight carries no key.
  const corsHandlers = deps.cors ? cors(deps.cors) : undefined;
  if (corsHandlers) app.use(corsHandlers.middleware);
  // The API's routes ahead of the documentation's and the console's: every router a request enters
  // on its way is a dispatch of Express's own (its layers walked, the URL trimmed and restored).
  // Express's router was 16 % of what api-service allocated per accepted item with those two first,
  // 14 % after (~110 → ~108 KB per item, bench/api.bench.ts with a sampling heap profile).
  for (const router of deps.selfAuthenticatingRouters ?? []) app.use(router);
  app.use('/v1', authenticate(deps));
  app.use(itemsRoutes({ ...deps, admission: deps.acceptGate ?? new KeyedGate(deps.acceptAdmission ?? DEFAULT_ACCEPT_ADMISSION) }));
  app.use(quotaRoutes(deps));
  app.use(usageRoutes(deps));

  for (const router of deps.publicRouters ?? []) app.use(router);
  app.use(consoleRoutes());

  app.use('/admin', authenticate(deps), requireAdmin);
  app.use(adminUsersRoutes(deps));
  app.use(adminKeysRoutes(deps));
  app.use(adminPlansRoutes({ db: deps.db, users: deps.quota }));
  for (const router of deps.adminRouters ?? []) app.use(router);

  app.use(notFoundHandler());
  if (corsHandlers) app.use(corsHandlers.onError);
  app.use(errorMiddleware(deps.logger));
  return app;
}
