import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { CreateItemResponse, UsagePage } from '@qv/contracts';
import { createUser, eventually, http, SERVICE_NAMES, startStack, waitForItem, type Stack } from '@qv/testing';

/**
 * One OpenTelemetry trace per item across every hop (issue 14, DESIGN.md §10): the stack exports
 * OTLP/HTTP JSON to a receiver in this test. The batch processor's delay is longer than the test,
 * so the spans arrive only when each service flushes them at shutdown.
 */

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface ReceivedSpan {
  service: string;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean | undefined>;
}

const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

const valueOf = (v: OtlpValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));

/** A plain OTLP/HTTP receiver: POST /v1/traces with the JSON encoding, every span kept. */
function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans ?? []) {
        const service = String(valueOf(rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value));
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              scope: ss.scope?.name ?? '',
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              attributes: Object.fromEntries((s.attributes ?? []).map((a: { key: string; value: OtlpValue }) => [a.key, valueOf(a.value)])),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    resolve({ server, url: `http://127.0.0.1:${port}`, spans });
  }));
}

describe('one trace per item across the six services (OTLP/HTTP JSON)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let stack: Stack | undefined;

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        // Nothing is exported on the batch timer, nor by a batch filling up, within the test: every
        // span below arrives through the flush of each service's shutdown.
        OTEL_BSP_SCHEDULE_DELAY: '600000',
        OTEL_BSP_MAX_QUEUE_SIZE: '1000000',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1000000',
      },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
    receiver?.server.close();
  });

  it('follows an item from POST /v1/items to its ledger entry in one trace, each span under its parent, the LLM span with its tokens', async () => {
    const s = stack!;
    const user = await createUser(s.api, s.adminKey, 'free');
    const created = await http<CreateItemResponse>('POST', `${s.api}/v1/items`, { key: user.key, body: { content: 'Tracing follows one item through every service. The ledger records its exact tokens.', title: 'Traced' } });
    expect(created.status).toBe(202);
    const done = await waitForItem(s.api, user.key, created.body.item.id, { until: ['DONE'] });
    await eventually(async () => ((await http<UsagePage>('GET', `${s.api}/v1/usage`, { key: user.key })).body.entries.length === 1 ? true : undefined));

    // A refused charge: quota-service logs it inside the request's trace.
    const capped = await createUser(s.api, s.adminKey, 'free', { enrichmentsPerDay: 0 });
    expect((await http('POST', `${s.api}/v1/items`, { key: capped.key, body: { content: 'Refused.' } })).status).toBe(429);

    const beforeStop = receiver.spans.length;
    const logFiles = Object.fromEntries(Object.entries(s.services).map(([name, p]) => [name, p!.logFile]));
    const started = performance.now();
    await s.stop();
    stack = undefined;
    console.log(`spans exported before the stop: ${beforeStop}; after it: ${receiver.spans.length} (stop took ${Math.round(performance.now() - started)} ms)`);
    expect(beforeStop).toBe(0);
    for (const name of SERVICE_NAMES) expect(receiver.spans.filter((sp) => sp.service === name).length).toBeGreaterThan(0);

    // The item's trace: the one holding the create.
    const create = receiver.spans.find((sp) => sp.name === 'Items.create' && sp.service === 'api-service' && receiver.spans.some((o) => o.traceId === sp.traceId && o.service === 'enrichment-worker'));
    expect(create).toBeDefined();
    const trace = receiver.spans.filter((sp) => sp.traceId === create!.traceId);
    const byId = new Map(trace.map((sp) => [sp.spanId, sp]));
    const parentOf = (sp: ReceivedSpan) => (sp.parentSpanId ? byId.get(sp.parentSpanId) : undefined);
    const perService = Object.fromEntries(SERVICE_NAMES.map((n) => [n, trace.filter((sp) => sp.service === n).length]));
    console.log(`trace ${create!.traceId}: ${trace.length} spans`, perService);
    console.log(trace.map((sp) => `${sp.service} ${sp.name} <- ${parentOf(sp) ? `${parentOf(sp)!.service} ${parentOf(sp)!.name}` : '(root)'}`).join('\n'));

    // Every service on an item's path took part (the worker runs the cache and settles the item in
    // its own process: cache-service and ledger-consumer are not on it); one root (the POST), every
    // other span's parent is in the trace.
    expect(new Set(trace.map((sp) => sp.service))).toEqual(new Set(['api-service', 'quota-service', 'enrichment-worker', 'llm-simulator']));
    const roots = trace.filter((sp) => !sp.parentSpanId);
    expect(roots).toHaveLength(1);
    expect(roots[0]).toMatchObject({ service: 'api-service', kind: SPAN_KIND.SERVER });
    expect(roots[0].attributes['http.route'] ?? roots[0].name).toContain('/v1/items');
    for (const sp of trace) if (sp.parentSpanId) expect({ span: sp.name, parent: byId.has(sp.parentSpanId) }).toEqual({ span: sp.name, parent: true });

    // Each hop under the right parent: a server span under its caller's client span, a job under its enqueue.
    const serverSpans = (service: string) => trace.filter((sp) => sp.service === service && sp.kind === SPAN_KIND.SERVER);
    for (const [callee, caller] of [['quota-service', 'api-service'], ['llm-simulator', 'enrichment-worker']] as const) {
      expect(serverSpans(callee).length).toBeGreaterThan(0);
      for (const sp of serverSpans(callee)) expect({ callee, parent: parentOf(sp)?.service, kind: parentOf(sp)?.kind }).toEqual({ callee, parent: caller, kind: SPAN_KIND.CLIENT });
    }
    const consumers = (service: string) => trace.filter((sp) => sp.service === service && sp.kind === SPAN_KIND.CONSUMER);
    expect(consumers('enrichment-worker').length).toBeGreaterThan(0);
    for (const sp of consumers('enrichment-worker')) expect({ parent: parentOf(sp)?.service, kind: parentOf(sp)?.kind }).toEqual({ parent: 'api-service', kind: SPAN_KIND.PRODUCER });
    // The item's ledger entry, written by the worker inside the job's span.
    const ledgerApply = trace.filter((sp) => sp.name === 'Ledger.apply');
    expect(ledgerApply.length).toBeGreaterThan(0);
    for (const sp of ledgerApply) expect(sp.service).toBe('enrichment-worker');

    // The official instrumentations: PostgreSQL and Redis commands inside the trace.
    expect(trace.some((sp) => sp.service === 'quota-service' && sp.attributes['db.system'] === 'postgresql')).toBe(true);
    expect(trace.some((sp) => sp.service === 'enrichment-worker' && sp.attributes['db.system'] === 'postgresql')).toBe(true);
    expect(trace.some((sp) => sp.attributes['db.system'] === 'redis')).toBe(true);

    // The LLM calls (GenAI semantic conventions), their tokens those the item and the ledger got.
    const llm = trace.filter((sp) => sp.attributes['gen_ai.operation.name'] === 'chat');
    expect(llm.length).toBeGreaterThan(0);
    for (const sp of llm) {
      expect(sp).toMatchObject({ service: 'enrichment-worker', kind: SPAN_KIND.CLIENT, name: `chat ${sp.attributes['gen_ai.request.model']}` });
      expect(sp.attributes).toMatchObject({ 'gen_ai.provider.name': 'simulator', 'gen_ai.system': 'simulator' });
      expect(typeof sp.attributes['gen_ai.request.model']).toBe('string');
      expect(sp.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(sp.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
      // The HTTP call to the simulator is the LLM span's child.
      expect(trace.some((c) => c.parentSpanId === sp.spanId && c.kind === SPAN_KIND.CLIENT)).toBe(true);
    }
    const sum = (key: string) => llm.reduce((n, sp) => n + Number(sp.attributes[key]), 0);
    expect({ input: sum('gen_ai.usage.input_tokens'), output: sum('gen_ai.usage.output_tokens') }).toEqual({ input: done.enrichment?.promptTokens, output: done.enrichment?.completionTokens });

    // Log lines carry the trace: quota-service's line for the refused charge names its trace and span.
    const refusal = readFileSync(logFiles['quota-service'], 'utf8').split('\n').filter((l) => l.includes('"quota exceeded"')).map((l) => JSON.parse(l));
    expect(refusal).toHaveLength(1);
    expect(refusal[0].trace_id).toMatch(/^[0-9a-f]{32}$/);
    const logged = receiver.spans.find((sp) => sp.spanId === refusal[0].span_id);
    expect(logged).toMatchObject({ service: 'quota-service', traceId: refusal[0].trace_id });
    expect(receiver.spans.find((sp) => sp.traceId === refusal[0].trace_id && !sp.parentSpanId)).toMatchObject({ service: 'api-service', kind: SPAN_KIND.SERVER });
  }, 120_000);
});
