/** Redis connections, queue names, the job catalog (enqueue options, handler dispatch, usage events) and fairness between users. */
export * from './redis';
export * from './queues';
export * from './fairness';
export * from './telemetry';
export * from './handlers';
export * from './usage-events';
