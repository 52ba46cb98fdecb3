import { request } from 'node:http';
import { Writable } from 'node:stream';
import { AppError } from '@qv/contracts';
import pino from 'pino';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { createHttpApp } from './app';
import { directJsonRoutes, postJson } from './direct-routes';
import { errorMiddleware, notFoundHandler } from './errors';
import { listen, type RunningServer } from './server';
import { allow, ServiceAuthenticator } from './service-auth';

const API = 'a'.repeat(43);
const WORKER = 'w'.repeat(43);
const LIMIT = 16 * 1024;

/**
 * One app per server, built the same way; `direct` serves the routes through the `before` hook,
 * `express` through Express alone (the same routes on the router the hook falls back to). Every
 * request is sent to both and must be answered the same.
 */
function build(direct: boolean) {
  const metrics = new Registry();
  const logs: { msg: string; err?: { message?: string } }[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (line: Buffer, _enc, done) => (logs.push(JSON.parse(line.toString())), done()) }));
  const auth = new ServiceAuthenticator({ 'api-service': API, 'enrichment-worker': WORKER });
  const app = createHttpApp({ service: 'test', logger, metrics, readiness: [], bodyLimit: LIMIT, serviceAuth: auth });
  const routes = directJsonRoutes(
    [
      postJson('/t/echo', allow('api-service'), z.object({ n: z.number(), s: z.string().optional() }), async (body, ctx) => ({ status: 201, json: { n: body.n, caller: ctx.caller } })),
      postJson('/t/raw', allow('api-service', 'enrichment-worker'), z.object({}), async () => ({ status: 200, raw: '{"hit":true,"entry":{"stored":"as is"}}' })),
      postJson('/t/refuse', allow('api-service'), z.object({}), async () => {
        throw new AppError('DAILY_QUOTA_EXCEEDED', 'No more today', { retryAfterSeconds: 42 });
      }),
      postJson('/t/boom', allow('api-service'), z.object({}), async () => {
        throw new Error('secret detail of a failure');
      }),
    ],
    { auth, logger, metrics, bodyLimit: LIMIT },
  );
  // What got past authentication and the body parser into Express's routes (the hook's answers never do).
  const reachedExpress: string[] = [];
  app.use((req, _res, next) => (reachedExpress.push(`${req.method} ${req.url}`), next()));
  app.use(routes.router);
  app.get('/t/express', allow('api-service'), (_req, res) => void res.json({ served: 'by express' }));
  app.use(notFoundHandler());
  app.use(errorMiddleware(logger));
  return { app, before: direct ? routes.before : undefined, metrics, logs, reachedExpress };
}

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(port: number, { method = 'POST', path, headers = {}, body }: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const as = (token: string) => ({ authorization: `Bearer ${token}` });

/** What must be the same on both paths (Date, Connection and fresh request ids aside). */
function comparable(answer: Answer) {
  const pick = ['content-type', 'content-length', 'x-content-type-options', 'www-authenticate', 'retry-after'];
  return { status: answer.status, headers: Object.fromEntries(pick.map((h) => [h, answer.headers[h]])), body: answer.text };
}

let direct: ReturnType<typeof build> & { server?: RunningServer };
let viaExpress: ReturnType<typeof build> & { server?: RunningServer };

beforeAll(async () => {
  direct = build(true);
  viaExpress = build(false);
  direct.server = await listen(direct.app, 0, '127.0.0.1', { before: direct.before });
  viaExpress.server = await listen(viaExpress.app, 0, '127.0.0.1');
});
afterAll(async () => {
  await direct.server?.close();
  await viaExpress.server?.close();
});

/** Sends to both servers; returns the direct path's answer once it is the same as Express's. */
async function both(sent: Omit<Sent, 'headers' | 'body'> & { headers?: Record<string, string>; body?: string }): Promise<Answer> {
  const [a, b] = [await send(direct.server!.port, sent), await send(viaExpress.server!.port, sent)];
  expect(comparable(a)).toEqual(comparable(b));
  return a;
}

/** A JSON POST, as api-service's credential unless `headers` say otherwise. */
const post = (path: string, value: unknown, headers: Record<string, string> = as(API)) => ({ path, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) });

describe('directJsonRoutes answers exactly as Express does', () => {
  it('serves a route: its status, JSON and the shared headers; a pre-serialised body as sent', async () => {
    const ok = await both(post('/t/echo', { n: 7 }));
    expect(ok.status).toBe(201);
    expect(JSON.parse(ok.text)).toEqual({ n: 7, caller: 'api-service' });
    expect(ok.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const raw = await both(post('/t/raw', {}, as(WORKER)));
    expect(raw.text).toBe('{"hit":true,"entry":{"stored":"as is"}}');
    expect([direct.reachedExpress, viaExpress.reachedExpress]).toEqual([[], ['POST /t/echo', 'POST /t/raw']]);
  });

  it('keeps a plausible incoming X-Request-Id and replaces any other', async () => {
    const kept = await both(post('/t/echo', { n: 1 }, { ...as(API), 'x-request-id': 'req-1.a_b' }));
    expect(kept.headers['x-request-id']).toBe('req-1.a_b');
    const replaced = await both(post('/t/echo', { n: 1 }, { ...as(API), 'x-request-id': 'has space' }));
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('401 without a known credential, 403 for a known caller without the right', async () => {
    for (const headers of [{}, as('x'.repeat(43)), { authorization: API }]) {
      const refused = await both(post('/t/echo', { n: 1 }, headers));
      expect([refused.status, JSON.parse(refused.text).error.code, refused.headers['www-authenticate']]).toEqual([401, 'UNAUTHENTICATED', 'Bearer realm="quota-vault-internal"']);
    }
    const forbidden = await both(post('/t/echo', { n: 1 }, as(WORKER)));
    expect([forbidden.status, JSON.parse(forbidden.text).error]).toEqual([403, { code: 'FORBIDDEN', message: 'The enrichment-worker credential may not call POST /t/echo' }]);
  });

  it('413 for a body over the limit', async () => {
    const tooLarge = await both(post('/t/echo', { n: 1, s: 'x'.repeat(LIMIT) }));
    expect([tooLarge.status, JSON.parse(tooLarge.text).error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect((await both(post('/t/echo', { n: 1, s: 'x'.repeat(LIMIT - 20) }))).status).toBe(201);
  });

  it('400 for a body that is not JSON, or JSON that is not an object or array; an empty body is {}', async () => {
    for (const body of ['{"n":', 'null', '"a string"', '12', '   ', 'n=1']) {
      const refused = await both({ path: '/t/echo', headers: { ...as(API), 'content-type': 'application/json' }, body });
      expect({ body, status: refused.status, error: JSON.parse(refused.text).error }).toEqual({ body, status: 400, error: { code: 'VALIDATION_FAILED', message: 'The request body is not valid JSON' } });
    }
    const empty = await both({ path: '/t/raw', headers: { ...as(API), 'content-type': 'application/json', 'content-length': '0' }, body: '' });
    expect(empty.status).toBe(200);
    const bom = await both({ path: '/t/echo', headers: { ...as(API), 'content-type': 'application/json; charset=utf-8' }, body: '\ufeff{"n":3}' });
    expect(bom.status).toBe(201);
  });

  it('400 naming the field for a NUL byte or a lone surrogate, in a value or a key', async () => {
    const nul = await both(post('/t/echo', { n: 1, s: 'a\u0000b' }));
    expect([nul.status, JSON.parse(nul.text).error.message]).toEqual([400, 'Invalid body: body.s must not contain NUL (U+0000) characters']);
    const key = await both(post('/t/raw', { ['k\ud800']: 1 }));
    expect(key.status).toBe(400);
    expect(JSON.parse(key.text).error.code).toBe('VALIDATION_FAILED');
  });

  it('400 with the zod issues for a body the schema refuses', async () => {
    const refused = await both(post('/t/echo', { n: 'one' }));
    const error = JSON.parse(refused.text).error;
    expect([refused.status, error.code, error.message, error.details[0].path]).toEqual([400, 'VALIDATION_FAILED', 'Invalid request body', ['n']]);
  });

  it("an AppError is answered with its status, body and Retry-After; an unknown error is 500 without its message, and logged", async () => {
    const refused = await both(post('/t/refuse', {}));
    expect([refused.status, refused.headers['retry-after'], JSON.parse(refused.text).error]).toEqual([429, '42', { code: 'DAILY_QUOTA_EXCEEDED', message: 'No more today', retryAfterSeconds: 42 }]);
    const failed = await both(post('/t/boom', {}));
    expect([failed.status, JSON.parse(failed.text).error]).toEqual([500, { code: 'INTERNAL', message: 'Internal error' }]);
    expect(failed.text).not.toContain('secret');
    for (const { logs } of [direct, viaExpress]) {
      expect(logs.filter((l) => l.msg === 'request failed').map((l) => l.err?.message)).toEqual(['secret detail of a failure']);
    }
  });

  it('leaves to Express what is not exactly a route: other methods and paths, query strings, other content types, compressed bodies', async () => {
    expect(JSON.parse((await both({ method: 'GET', path: '/t/express', headers: as(API) })).text)).toEqual({ served: 'by express' });
    expect((await both({ method: 'GET', path: '/t/echo', headers: as(API) })).status).toBe(404);
    expect((await both(post('/t/echo?x=1', { n: 2 }))).status).toBe(201);
    expect(direct.reachedExpress).toContain('POST /t/echo?x=1');
    expect((await both(post('/t/nowhere', { n: 2 }))).status).toBe(404);
    const text = await both({ path: '/t/echo', headers: { ...as(API), 'content-type': 'text/plain' }, body: '{"n":1}' });
    expect(text.status).toBe(400);
    const gzip = await both({ path: '/t/echo', headers: { ...as(API), 'content-type': 'application/json', 'content-encoding': 'br' }, body: 'not brotli' });
    expect(gzip.status).toBe(400);
  });

  it('observes http_request_duration_seconds with the same labels', async () => {
    const series = async (registry: Registry) => {
      const metric = await registry.getSingleMetric('http_request_duration_seconds')!.get();
      return (metric.values as { metricName?: string; labels: Record<string, string | number>; value: number }[])
        .filter((v) => v.metricName === 'http_request_duration_seconds_count')
        .map((v) => `${v.labels.method} ${v.labels.route} ${v.labels.status} ×${v.value}`)
        .sort();
    };
    const expected = await series(viaExpress.metrics);
    expect(expected).toEqual(expect.arrayContaining(['POST unmatched 401 ×3', 'POST /t/echo 403 ×1', 'POST unmatched 413 ×1']));
    expect(await series(direct.metrics)).toEqual(expected);
  });
});

describe('directJsonRoutes, beyond Express', () => {
  it('refuses a body declared over the limit at once, without reading it, and closes the connection', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: direct.server!.port, method: 'POST', path: '/t/echo', agent: false, headers: { ...as(API), 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      // The first bytes only: the answer must come while the client has most of the body still to send.
      req.write('{"n":1,"s":"');
      req.flushHeaders();
    });
    expect([answer.status, answer.headers.connection, JSON.parse(answer.text).error.code]).toEqual([413, 'close', 'PAYLOAD_TOO_LARGE']);
  });

  it('stops reading a streamed body at the limit', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: direct.server!.port, method: 'POST', path: '/t/echo', agent: false, headers: { ...as(API), 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.write(`{"n":1,"s":"${'x'.repeat(LIMIT)}`);
    });
    expect([answer.status, answer.headers.connection]).toEqual([413, 'close']);
  });
});
