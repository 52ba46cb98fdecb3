/** Client of cache-service (DESIGN.md §6): keys, the HTTP client, and fail-open single flight. */
export * from './cache-key';
export * from './cache-client';
export * from './single-flight';
export * from './single-flight-many';
