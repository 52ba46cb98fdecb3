import pino, { type Logger } from 'pino';
import { currentTraceIds } from './tracing';

export type { Logger };

/**
 * JSON logs, one line each. A line written inside a span carries its `trace_id` and `span_id`
 * (the OpenTelemetry log data model's names), so a log line leads to its trace and back.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    mixin() {
      return currentTraceIds() ?? {};
    },
  });
}
