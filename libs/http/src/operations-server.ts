import { createHttpApp, type HttpAppOptions } from './app';
import { errorMiddleware, notFoundHandler } from './errors';
import { listen, type RunningServer } from './server';

/**
 * The HTTP side of a service whose work comes from a queue (worker, ledger consumer): only
 * /healthz, /readyz and /metrics, listening on `port`.
 */
export function serveOperations(options: Omit<HttpAppOptions, 'bodyLimit'> & { port: number }): Promise<RunningServer> {
  const app = createHttpApp(options);
  app.use(notFoundHandler());
  app.use(errorMiddleware(options.logger));
  return listen(app, options.port);
}
