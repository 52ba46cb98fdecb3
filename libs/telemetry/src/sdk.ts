// Loaded only when tracing is configured (tracing.ts requires it lazily): every import here is a
// cost of the start of a traced process, none of an untraced one.
import type { IncomingMessage } from 'node:http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';

/**
 * The ioredis instrumentation of the Node-20 line (0.57) declares ioredis `<6`; its successors that
 * declare 6 need Node 22.15. ioredis 6 kept the two methods it wraps (`Redis.prototype.sendCommand`
 * and `connect`, which a Cluster's commands go through too), so the same patch is applied to 6.
 * The e2e tracing test shows its spans.
 */
class IORedis6Instrumentation extends IORedisInstrumentation {
  override init(): ReturnType<IORedisInstrumentation['init']> {
    const definitions = super.init();
    for (const definition of definitions) definition.supportedVersions = ['>=2.0.0 <7'];
    return definitions;
  }
}

/** Probes and scrapes: a span each would bury the traces worth reading. */
const UNTRACED_PATHS = /^\/(healthz|readyz|metrics)(\/|\?|$)/;

/**
 * Starts the NodeSDK: spans of incoming and outgoing HTTP (http, undici: the internal clients and
 * the LLM SDKs' fetch), Express routes, PostgreSQL and Redis commands issued inside a traced
 * operation, exported in batches as OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces)
 * or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. The standard OTEL_* variables apply (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY, …). Metrics stay with
 * Prometheus and logs with pino, so the SDK exports neither.
 */
export function startTracingSdk(serviceName: string): { shutdown: () => Promise<void> } {
  process.env.OTEL_SERVICE_NAME ??= serviceName;
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME,
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.test(req.url ?? '') }),
      new UndiciInstrumentation(),
      // Route handlers and routers; one span per middleware layer would double every request's spans.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Background polling (sweeper, relay, BullMQ's blocking reads) would be a root trace per query.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedis6Instrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return sdk;
}
