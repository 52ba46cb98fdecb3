/** Redis connections, queue names and the job catalog's enqueue options. */
export * from './redis';
export * from './queues';
