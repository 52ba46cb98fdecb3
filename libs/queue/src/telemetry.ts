import { context, trace, type Context } from '@opentelemetry/api';
import { isTracingStarted } from '@qv/telemetry';
import type { JobsOptions, Queue, Telemetry } from 'bullmq';

/**
 * BullMQ's OpenTelemetry integration (`bullmq-otel`) for a Queue or a Worker, when this process
 * exports traces: an add is a PRODUCER span whose context travels in the job, and a worker runs the
 * job inside a CONSUMER span that continues it. Undefined (BullMQ's default, no bookkeeping per
 * job) when tracing is off.
 */
export function bullTelemetry(): Telemetry | undefined {
  if (!isTracingStarted()) return undefined;
  // Loaded only when tracing is on.
  const { BullMQOtel } = require('bullmq-otel') as typeof import('bullmq-otel');
  return new BullMQOtel({ tracerName: 'bullmq' });
}

const ENQUEUED_IN = Symbol('qv.enqueuedIn');
type WithContext = { [ENQUEUED_IN]?: Context };

/**
 * Remembers, on a job's options, the trace context it was enqueued in (not serialized: the key is
 * a symbol, the property not enumerable). Jobs collected into one `addBulk` (the outbox publisher
 * batches them) are added inside the first caller's context; `ownTraceContexts` gives each of the
 * others its own caller's.
 */
export function rememberEnqueueContext<T extends JobsOptions>(opts: T): T {
  if (trace.getActiveSpan()) Object.defineProperty(opts, ENQUEUED_IN, { value: context.active(), enumerable: false });
  return opts;
}

/**
 * The options of a bulk add, each job continuing the trace it was enqueued in: a job enqueued in
 * the context the bulk add runs in continues through the add's own PRODUCER span (BullMQ's
 * default); one remembered from another request carries that request's context in BullMQ's own
 * telemetry metadata (serialized by bullmq-otel's context manager).
 */
export function ownTraceContexts(queue: Queue, opts: JobsOptions): JobsOptions {
  const telemetry = queue.opts.telemetry;
  const enqueuedIn = (opts as WithContext)[ENQUEUED_IN];
  if (!telemetry || !enqueuedIn || opts.telemetry?.metadata) return opts;
  if (trace.getSpan(enqueuedIn) === trace.getActiveSpan()) return opts;
  return { ...opts, telemetry: { ...opts.telemetry, metadata: telemetry.contextManager.getMetadata(enqueuedIn) } };
}
