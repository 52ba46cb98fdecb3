/** Redis connections, queue names, the job catalog's enqueue options and fairness between users. */
export * from './redis';
export * from './queues';
export * from './fairness';
export * from './telemetry';
