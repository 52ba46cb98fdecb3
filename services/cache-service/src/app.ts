import { createHttpApp, directJsonRoutes, errorMiddleware, notFoundHandler, type DirectJsonRoutes, type ReadinessCheck, type ServiceAuthenticator } from '@qv/http';
import type { Logger, Registry } from '@qv/telemetry';
import type { Express } from 'express';
import type { CacheService } from '@qv/cache';
import { cacheEntryRoutes } from './routes/cache-entry.routes';
import { cacheRoutes } from './routes/cache.routes';

export interface AppDeps {
  cache: CacheService;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  /** Who is calling (service credentials, SECURITY.md); each route names who may (routes/cache.routes.ts). */
  serviceAuth: ServiceAuthenticator;
}

/** A put-many of a many-task item's entries stays well under this. */
const BODY_LIMIT = 2 * 1024 * 1024;

export interface CacheServiceApp {
  app: Express;
  /** The entry routes, served before Express: `listen(app, port, host, { before })`. */
  before: DirectJsonRoutes['before'];
}

export function createApp(deps: AppDeps): CacheServiceApp {
  const app = createHttpApp({ service: 'cache-service', logger: deps.logger, metrics: deps.metrics, readiness: deps.readiness, bodyLimit: BODY_LIMIT, serviceAuth: deps.serviceAuth });
  const direct = directJsonRoutes(cacheEntryRoutes(deps.cache), { auth: deps.serviceAuth, logger: deps.logger, metrics: deps.metrics, bodyLimit: BODY_LIMIT });
  app.use(direct.router);
  app.use(cacheRoutes(deps.cache));
  app.use(notFoundHandler());
  app.use(errorMiddleware(deps.logger));
  return { app, before: direct.before };
}
