import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { node } from '@opentelemetry/sdk-node';
import { eventually, testRedisPrefix, testRedisUrl } from '@qv/testing';
import { Queue, Worker } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import { addFairly, type FairJob } from './fairness';
import { bullPrefix, jobOptions } from './queues';
import { createRedis, type Redis } from './redis';

/**
 * The outbox publisher collects the jobs of several requests into one `addBulk`, run in the first
 * request's context. Each job must still continue its own request's trace (real Redis, BullMQ's
 * own telemetry through bullmq-otel, an in-process SDK).
 */
describe('trace context of jobs added in one batch', () => {
  const exporter = new node.InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({ spanProcessors: [new node.SimpleSpanProcessor(exporter)] });
  let redis: Redis;
  let queue: Queue;
  let prefix: string;
  let name: string;

  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(() => {
    redis = createRedis(testRedisUrl());
    prefix = testRedisPrefix();
    name = `traced-${prefix}`;
    queue = new Queue(name, { connection: redis, prefix: bullPrefix(prefix), telemetry: new BullMQOtel({ tracerName: 'bullmq' }) });
  });
  afterEach(async () => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const within = <T>(span: Span, fn: () => T): T => context.with(trace.setSpan(context.active(), span), fn);

  it("runs each job under its own request's trace: the first through the bulk add's span, the other under its request", async () => {
    const tracer = trace.getTracer('test');
    const requestA = tracer.startSpan('request A');
    const requestB = tracer.startSpan('request B');
    // Each request builds its job's options in its own context, as OutboxPublisher.publish does.
    const jobA: FairJob = within(requestA, () => ({ name: 'enrich', data: { userId: 'usr_a' }, opts: jobOptions('enrich', 'itm_a') }));
    const jobB: FairJob = within(requestB, () => ({ name: 'enrich', data: { userId: 'usr_b' }, opts: jobOptions('enrich', 'itm_b') }));
    // The batch goes out in the first request's context.
    await within(requestA, () => addFairly(queue, [jobA, jobB]));
    requestA.end();
    requestB.end();

    const connection = createRedis(testRedisUrl());
    const ran: string[] = [];
    const worker = new Worker(name, async (job) => void ran.push(job.id!), { connection, prefix: bullPrefix(prefix), telemetry: new BullMQOtel({ tracerName: 'bullmq' }) });
    try {
      await eventually(async () => ran.length === 2);
    } finally {
      await worker.close();
      connection.disconnect();
    }

    const spans = exporter.getFinishedSpans();
    const addBulk = spans.find((s) => s.name === `addBulk ${name}`);
    const processOf = (jobId: string) => spans.find((s) => s.name === `process ${name}` && s.attributes['bullmq.job.id'] === jobId);
    expect(addBulk?.spanContext().traceId).toBe(requestA.spanContext().traceId);
    expect(addBulk?.parentSpanContext?.spanId).toBe(requestA.spanContext().spanId);
    expect(processOf('itm_a')?.spanContext().traceId).toBe(requestA.spanContext().traceId);
    expect(processOf('itm_a')?.parentSpanContext?.spanId).toBe(addBulk?.spanContext().spanId);
    expect(processOf('itm_b')?.spanContext().traceId).toBe(requestB.spanContext().traceId);
    expect(processOf('itm_b')?.parentSpanContext?.spanId).toBe(requestB.spanContext().spanId);
  });

  it("leaves a job enqueued outside any trace to BullMQ: it continues the bulk add's own span", async () => {
    exporter.reset();
    await addFairly(queue, [{ name: 'enrich', data: { userId: 'usr_c' }, opts: jobOptions('enrich', 'itm_plain') }]);
    const addBulk = exporter.getFinishedSpans().find((s) => s.name === `addBulk ${name}`);
    expect(addBulk?.parentSpanContext).toBeUndefined();
    const metadata = JSON.parse((await queue.getJob('itm_plain'))!.opts.telemetry!.metadata!);
    const carried = trace.getSpanContext(propagation.extract(context.active(), metadata));
    expect(carried?.spanId).toBe(addBulk?.spanContext().spanId);
  });
});
