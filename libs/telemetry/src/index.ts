/** Tracing (OpenTelemetry), logs (pino, with trace ids) and Prometheus metrics for every process. */
export * from './tracing';
export * from './gen-ai';
export * from './logger';
export * from './metrics';
export * from './periodic-task';
