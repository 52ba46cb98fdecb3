import { randomUUID } from 'node:crypto';
import { Histogram, type Registry } from 'prom-client';

const REQUEST_ID = /^[\w.-]{1,128}$/;

/** A request's id: the caller's `X-Request-Id` when it is a plausible one, otherwise a fresh UUID. */
export function requestIdFrom(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export type RequestDuration = Histogram<'method' | 'route' | 'status'>;

/**
 * `http_request_duration_seconds` of `registry`, created on first use. Every transport of a
 * process (Express apps, an operations port, direct-routes.ts) observes the same histogram:
 * prom-client refuses to register one name twice.
 */
export function requestDuration(registry: Registry): RequestDuration {
  const existing = registry.getSingleMetric('http_request_duration_seconds') as RequestDuration | undefined;
  return (
    existing ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    })
  );
}
