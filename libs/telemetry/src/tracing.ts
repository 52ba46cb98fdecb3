import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

/** What the lazily loaded SDK module (./sdk) gives back: its shutdown. */
interface RunningSdk {
  shutdown: () => Promise<void>;
}

/**
 * The running SDK, on a global: the preload (dist/telemetry/preload.js) and the service's bundle
 * each hold their own copy of this module, and the service's startTelemetry, stopTelemetry and
 * isTracingStarted must see the SDK the preload started.
 */
const SDK = Symbol.for('quota-vault.telemetry.sdk');
const holder = globalThis as typeof globalThis & { [SDK]?: RunningSdk };

/**
 * Tracing is on when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT, or the
 * traces-only OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not `true`. Off, nothing
 * of the SDK is even loaded: its import alone costs a few tenths of a second of every start.
 */
export function isTracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) && env.OTEL_SDK_DISABLED !== 'true';
}

/** True once startTelemetry has started the SDK in this process. */
export function isTracingStarted(): boolean {
  return holder[SDK] !== undefined;
}

/**
 * Starts the OpenTelemetry NodeSDK with the official instrumentations (./sdk) when tracing is
 * configured; a no-op otherwise, and when already started. The compiled services start it from the
 * bundle's first line (scripts/build-services.mjs loads dist/telemetry/preload.js before any
 * package is required, so the instrumentations patch express, pg, ioredis and http as they load);
 * the call in each main.ts covers a service run from its TypeScript source.
 */
export function startTelemetry(serviceName: string): void {
  if (holder[SDK] || !isTracingConfigured()) return;
  // A require, not an import: the SDK and the instrumentations load only when tracing is on.
  const { startTracingSdk } = require('./sdk') as typeof import('./sdk');
  holder[SDK] = startTracingSdk(serviceName);
}

/** Flushes the spans still buffered and stops the SDK; the last step of every service's shutdown. */
export async function stopTelemetry(): Promise<void> {
  const running = holder[SDK];
  holder[SDK] = undefined;
  await running?.shutdown().catch(() => undefined);
}

/**
 * One tracer for the process: a proxy that follows whatever provider is registered, now or later
 * (`trace.getTracer` would build a new proxy on every call of the hot paths).
 */
const tracer = trace.getTracer('quota-vault');

/** Runs `fn` inside a span named `Area.action`, recording a thrown error on it. */
export async function withSpan<T>(name: string, fn: (span: Span) => Promise<T>, attributes: Record<string, string | number | boolean> = {}): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active span's trace and span ids (for log lines), or undefined outside a recorded span. */
export function currentTraceIds(): { trace_id: string; span_id: string } | undefined {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/** The active trace id. */
export function currentTraceId(): string | undefined {
  return currentTraceIds()?.trace_id;
}
