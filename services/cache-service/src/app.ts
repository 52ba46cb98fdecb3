import { createHttpApp, errorMiddleware, notFoundHandler, type ReadinessCheck, type ServiceAuthenticator } from '@qv/http';
import type { Logger, Registry } from '@qv/telemetry';
import type { Express } from 'express';
import type { CacheService } from './cache.service';
import { cacheRoutes } from './routes/cache.routes';

export interface AppDeps {
  cache: CacheService;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  /** Who is calling (service credentials, SECURITY.md); each route names who may (routes/cache.routes.ts). */
  serviceAuth: ServiceAuthenticator;
}

export function createApp(deps: AppDeps): Express {
  const app = createHttpApp({ service: 'cache-service', logger: deps.logger, metrics: deps.metrics, readiness: deps.readiness, bodyLimit: '2mb', serviceAuth: deps.serviceAuth });
  app.use(cacheRoutes(deps.cache));
  app.use(notFoundHandler());
  app.use(errorMiddleware(deps.logger));
  return app;
}
