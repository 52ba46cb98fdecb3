import pino, { type Logger } from 'pino';
import { currentTraceId } from './tracing';

export type { Logger };

/** JSON logs, one line each, carrying the active trace id so a log line leads to its trace. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    mixin() {
      const traceId = currentTraceId();
      return traceId ? { traceId } : {};
    },
  });
}
