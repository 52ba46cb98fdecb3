/**
 * The cache's three tiers over Redis (hot copy, counters, leases) and PostgreSQL (durable copy):
 * served over HTTP by cache-service, and run in process by api-service's chat path, so a
 * synchronous call's look-up and fill cost no hop of their own.
 */
export * from './cache.service';
export * from './domain/cache-keys';
export * from './domain/cache-metrics';
export * from './repositories/entry-events';
export * from './repositories/pg-cache.repository';
export * from './repositories/redis-cache.repository';
export * from './read-write-cache';
