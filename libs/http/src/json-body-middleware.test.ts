import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createHttpApp } from './app';
import { errorMiddleware } from './errors';
import { limitInBytes } from './json-body';
import { listen, type RunningServer } from './server';

const LIMIT = '2kb';
const logger = pino({ level: 'silent' });
/** An error's body-parser fields in a header, so that handlers reading them (the simulator's) are compared too. */
const parserFields: express.ErrorRequestHandler = (err: { type?: string; status?: number }, _req, res, next) => {
  res.setHeader('x-parser-error', `${err.type} ${err.status}`);
  next(err);
};
const echo: express.RequestHandler = (req, res) => void res.json({ body: req.body ?? null, type: typeof req.body });

/** createHttpApp's JSON bodies (the fast reader in front of express.json) beside express.json alone. */
let ours: RunningServer;
let reference: RunningServer;
beforeAll(async () => {
  const app = createHttpApp({ service: 'test', logger, metrics: new Registry(), readiness: [], bodyLimit: LIMIT });
  app.post('/echo', echo);
  app.use(parserFields, errorMiddleware(logger));
  const plain = express();
  plain.use(express.json({ limit: LIMIT }));
  plain.post('/echo', echo);
  plain.use(parserFields, errorMiddleware(logger));
  ours = await listen(app, 0, '127.0.0.1');
  reference = await listen(plain, 0, '127.0.0.1');
});
afterAll(async () => {
  await ours.close();
  await reference.close();
});

interface Sent {
  headers: Record<string, string>;
  body?: Buffer | string;
  /** Sent in pieces, without a Content-Length (chunked). */
  chunked?: boolean;
}

function send(port: number, sent: Sent): Promise<{ status: number; body: string; connection?: string; parserError?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: sent.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, body: text, connection: res.headers.connection, parserError: res.headers['x-parser-error'] as string | undefined }));
    });
    req.on('error', reject);
    if (sent.chunked && sent.body !== undefined) {
      const body = Buffer.from(sent.body);
      for (let at = 0; at < body.length; at += 700) req.write(body.subarray(at, at + 700));
      req.end();
    } else req.end(sent.body);
  });
}

/** Both answers, once they are the same (status and body; the error bodies carry no request id here). */
async function both(sent: Sent): Promise<{ status: number; body: string; connection?: string }> {
  const [a, b] = [await send(ours.port, sent), await send(reference.port, sent)];
  expect({ status: a.status, body: a.body, parserError: a.parserError }).toEqual({ status: b.status, body: b.body, parserError: b.parserError });
  return a;
}

const json = (body: Buffer | string, type = 'application/json'): Sent => ({ headers: { 'content-type': type }, body });

describe('JSON bodies: the same value or error as express.json', () => {
  it.each<[string, Sent]>([
    ['an object', json('{"a":[1,2,{"b":"é"}],"n":null}')],
    ['an array', json('[1,"two"]')],
    ['with a charset', json('{"a":1}', 'application/json; charset=utf-8')],
    ['with a quoted charset and upper case', json('{"a":1}', 'Application/JSON; charset="UTF-8"')],
    ['a leading BOM', json('\ufeff{"a":1}')],
    ['an empty body', json('')],
    ['whitespace then an object', json(' \n\t{"a":1}')],
    ['sent in pieces', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s: 'x'.repeat(1500) }), chunked: true }],
  ])('parses %s', async (_name, sent) => {
    expect((await both(sent)).status).toBe(200);
  });

  it.each<[string, Sent, number]>([
    ['invalid JSON', json('{"a":'), 400],
    ['a bare string (strict mode)', json('"text"'), 400],
    ['a bare number', json('42'), 400],
    ['a body over the limit, declared', json(JSON.stringify({ s: 'x'.repeat(3000) })), 413],
    ['a 100k run of one character', json(`{"s":"${'a'.repeat(100_000)}"}`), 413],
    ['a body over the limit, in pieces', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s: 'x'.repeat(3000) }), chunked: true }, 413],
  ])('refuses %s', async (_name, sent, status) => {
    expect((await both(sent)).status).toBe(status);
  });

  it('closes the connection after refusing a body too large, having not read it', async () => {
    expect((await send(ours.port, json(JSON.stringify({ s: 'x'.repeat(3000) })))).connection).toBe('close');
  });

  it.each<[string, Sent]>([
    ['another content type (left unparsed)', json('a=1', 'application/x-www-form-urlencoded')],
    ['a gzipped body (inflated)', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync('{"zipped":true}') }],
    ['UTF-16 (decoded)', json(Buffer.from('{"wide":"ü"}', 'utf16le'), 'application/json; charset=utf-16le')],
    ['an unsupported charset', json('{"a":1}', 'application/json; charset=latin1')],
    ['no body at all', { headers: {} }],
  ])('leaves %s to express.json', async (_name, sent) => {
    await both(sent);
  });

  it('reads a limit as body-parser does', () => {
    // What the `bytes` package (body-parser's parser) answers for each.
    const expected: Array<[string | number, number]> = [['512kb', 524_288], ['1mb', 1_048_576], ['1.5MB', 1_572_864], ['100', 100], ['100b', 100], ['2 KB', 2048], [4096, 4096]];
    for (const [limit, inBytes] of expected) expect(limitInBytes(limit)).toBe(inBytes);
    expect(() => limitInBytes('lots')).toThrow(/Not a body limit/);
  });
});
