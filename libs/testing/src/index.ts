/** Test isolation on the real PostgreSQL and Redis: a database and a Redis prefix per file, services as processes. */
export * from './env';
export * from './database';
export * from './use-test-database';
export * from './processes';
export * from './stack';
export * from './stack-options';
export * from './stack-presets';
export * from './http';
export * from './wait-for-item';
export * from './simulator-calls';
export * from './ports';
export * from './process-cpu';
export * from './table-reads';
