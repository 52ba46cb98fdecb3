import { createHttpApp, type HttpAppOptions } from './app';
import { errorMiddleware, notFoundHandler } from './errors';
import { listen, type RunningServer } from './server';
import type { ServiceAuthenticator } from './service-auth';

export interface OperationsServerOptions extends Omit<HttpAppOptions, 'bodyLimit' | 'serviceAuth'> {
  port: number;
  /** The interface to bind: the service's HOST. */
  host: string;
  /** Who may scrape /metrics: build it with the `metrics` caller (/healthz and /readyz stay open). */
  serviceAuth: ServiceAuthenticator;
}

/**
 * The HTTP side of a service whose work comes from a queue (worker, ledger consumer): only
 * /healthz, /readyz (open) and /metrics (the `metrics` credential), listening on `port`.
 */
export function serveOperations(options: OperationsServerOptions): Promise<RunningServer> {
  const app = createHttpApp(options);
  app.use(notFoundHandler());
  app.use(errorMiddleware(options.logger));
  return listen(app, options.port, options.host);
}
