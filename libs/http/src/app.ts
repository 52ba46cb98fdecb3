import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { edgeGuard, noteBodySafety, noteBodyText } from './edge-guard';
import { jsonBodyMiddleware } from './json-body';
import { requestDuration, requestIdFrom } from './request-context';
import { allow, type ServiceAuthenticator } from './service-auth';

/** A dependency the service needs to serve; /readyz answers 503 naming the ones that fail. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  /** Largest JSON body accepted; larger is 413 PAYLOAD_TOO_LARGE. */
  bodyLimit?: string | number;
  /**
   * Service credentials (service-auth.ts). When set, every request but /healthz and /readyz needs a
   * known caller's credential (401 before its body is read) and /metrics is the `metrics` caller's
   * alone; each route then names its callers with `allow`. Internal services must set it.
   */
  serviceAuth?: ServiceAuthenticator;
  /**
   * Serve GET /metrics on this app (default true). A public app sets false and serves its metrics
   * on an operations port instead (`serveOperations` with the same registry), so the internet
   * never reads them; /metrics is then 404 here.
   */
  metricsRoute?: boolean;
}

/**
 * An Express app with what every service shares: request ids, `X-Content-Type-Options: nosniff` on
 * every response, JSON bodies, a request duration histogram, /healthz, /readyz and (unless
 * `metricsRoute: false`) /metrics. Routes are added by the caller, then `errorMiddleware`.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // JSON APIs answered fresh each time: an ETag would hash every body for no client to use.
  app.set('etag', false);
  app.set('trust proxy', false);
  const duration = requestDuration(options.metrics);

  // One middleware, not three: every layer Express passes a request through costs a dispatch of its own.
  app.use((req, res, next) => {
    // Every response, errors and 404s included: a browser never sniffs a JSON body into HTML.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const id = requestIdFrom(req.headers['x-request-id']);
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    const end = duration.startTimer();
    res.on('finish', () => end({ method: req.method, route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    next();
  });
  if (options.serviceAuth) app.use(options.serviceAuth.middleware(options.logger));
  const limit = options.bodyLimit ?? '1mb';
  app.use(jsonBodyMiddleware(limit, express.json({ limit, verify: noteBodyText }), noteBodySafety));
  app.use(edgeGuard());

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: options.service });
  });
  app.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      options.readiness.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), 2000);
          return [name, 'ok'] as const;
        } catch (err) {
          // The reason goes to the log, not to the answer: /readyz is open to anyone who reaches
          // the port (api-service's is public), and a driver's message names hosts and ports.
          options.logger.warn({ check: name, err: (err as Error).message }, 'readiness check failed');
          return [name, 'down'] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, state]) => state === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  if (options.metricsRoute !== false) {
    app.get('/metrics', ...(options.serviceAuth ? [allow('metrics')] : []), async (_req, res) => {
      res.type(options.metrics.contentType).send(await options.metrics.metrics());
    });
  }
  return app;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

