/**
 * The cache's three tiers over Redis (hot copy, counters, leases) and PostgreSQL (durable copy):
 * served over HTTP by cache-service (its operators' API, the warm, the cleanup), and run in process
 * where entries are read and filled (api-service's chat path, the enrichment worker), so a call's
 * or an item's look-up and fill cost no hop of their own.
 */
export * from './cache.service';
export * from './domain/cache-keys';
export * from './domain/cache-metrics';
export * from './repositories/entry-events';
export * from './repositories/pg-cache.repository';
export * from './repositories/redis-cache.repository';
export * from './read-write-cache';
export * from './single-flight-cache';
