import { Counter, Gauge, type Registry } from '@qv/telemetry';

/** This process's view (Prometheus sums replicas); the exact cross-replica stats are the Redis counters. */
export class CacheMetrics {
  readonly requests: Counter<'tier' | 'op' | 'result'>;
  readonly leases: Counter<'tier' | 'event'>;
  readonly postgresFallbacks: Counter<'tier' | 'result'>;
  readonly cleanedRows: Counter;

  constructor(registry: Registry, waiting: () => number) {
    this.requests = new Counter({ name: 'cache_requests_total', help: 'Cache reads by tier, operation (get, lookup) and result (hit, miss)', labelNames: ['tier', 'op', 'result'], registers: [registry] });
    this.leases = new Counter({
      name: 'cache_single_flight_leases_total',
      help: 'Single-flight events: lease granted, completed by a put, released on failure, waits that timed out',
      labelNames: ['tier', 'event'],
      registers: [registry],
    });
    this.postgresFallbacks = new Counter({ name: 'cache_postgres_fallbacks_total', help: 'Redis misses looked up in PostgreSQL, by result (hit, miss, error)', labelNames: ['tier', 'result'], registers: [registry] });
    this.cleanedRows = new Counter({ name: 'cache_expired_rows_deleted_total', help: 'Expired ai_cache rows deleted by the cleanup job', registers: [registry] });
    new Gauge({
      name: 'cache_lookups_waiting',
      help: 'Lookups of this process waiting for another single-flight holder',
      registers: [registry],
      collect() {
        this.set(waiting());
      },
    });
  }
}
