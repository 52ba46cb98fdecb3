import { request } from 'node:http';
import { connect } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createHttpApp } from './app';
import { errorMiddleware, notFoundHandler } from './errors';
import { listen, type RunningServer } from './server';

/** createHttpApp's app (JSON bodies, the edge guard) with routes that echo what reached them. */
let server: RunningServer;
beforeAll(async () => {
  const logger = pino({ level: 'silent' });
  const app = createHttpApp({ service: 'test', logger, metrics: new Registry(), readiness: [] });
  app.post('/echo', (req, res) => void res.json({ body: req.body }));
  app.get('/echo/:segment', (req, res) => void res.json({ segment: req.params.segment, query: req.query }));
  app.use(notFoundHandler());
  app.use(errorMiddleware(logger));
  server = await listen(app, 0, '127.0.0.1');
});
afterAll(() => server.close());

function send(method: string, path: string, body?: Buffer | string, contentType = 'application/json'): Promise<{ status: number; json: { body?: unknown; error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers: body === undefined ? {} : { 'content-type': contentType } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject).end(body);
  });
}

describe('edge guard', () => {
  it.each([
    ['a NUL in a value', '{"free":{"form":"a\\u0000b"}}', 'body.free.form'],
    ['a lone surrogate in a value', '{"list":["ok","x\\ud800y"]}', 'body.list.1'],
    ['a lone surrogate in a key', '{"k\\udc00":1}', 'body.k\udc00'],
    ['an escape with upper-case digits', '{"s":"a\\uD83D"}', 'body.s'],
  ])('refuses %s of a UTF-8 body (400), wherever it is', async (_name, text, path) => {
    const res = await send('POST', '/echo', text);
    expect(res.status).toBe(400);
    expect(res.json.error?.code).toBe('VALIDATION_FAILED');
    expect(res.json.error?.message).toContain(path);
  });

  it('passes what only looks like an escape, and safe escapes, as sent', async () => {
    const body = { path: 'C:\\users\\name', escaped: '\\u0000 is how JSON spells NUL', accents: 'é', emoji: '\ud83d\ude00' };
    const res = await send('POST', '/echo', JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(res.json.body).toEqual(body);
  });

  it('passes a 100k run of one character, and refuses the same run with one escaped NUL at its end', async () => {
    const run = 'a'.repeat(100_000);
    const fine = await send('POST', '/echo', JSON.stringify({ s: run }));
    expect(fine.status).toBe(200);
    expect((fine.json.body as { s: string }).s).toBe(run);
    const nul = await send('POST', '/echo', `{"s":"${run}\\u0000"}`);
    expect(nul.status).toBe(400);
    expect(nul.json.error?.message).toContain('body.s');
  });

  it('walks a body in another charset: UTF-16 carries a lone surrogate as raw bytes, with no escape to see', async () => {
    const raw = Buffer.from('{"s":"x\ud800y"}', 'utf16le');
    expect(raw.includes(Buffer.from('\\u'))).toBe(false);
    const res = await send('POST', '/echo', raw, 'application/json; charset=utf-16le');
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toContain('body.s');
    const fine = await send('POST', '/echo', Buffer.from('{"s":"ok"}', 'utf16le'), 'application/json; charset=utf-16le');
    expect(fine.status).toBe(200);
    expect(fine.json.body).toEqual({ s: 'ok' });
  });

  it('makes U+FFFD of bytes that are not UTF-8 (a surrogate encoded as UTF-8 included): nothing unsafe gets through', async () => {
    const raw = Buffer.concat([Buffer.from('{"s":"x'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('y"}')]);
    const res = await send('POST', '/echo', raw);
    expect(res.status).toBe(200);
    const s = (res.json.body as { s: string }).s;
    expect(s.isWellFormed()).toBe(true);
    expect(s.startsWith('x\ufffd')).toBe(true);
  });

  it('never sees a raw NUL or a byte past ASCII in the path, which is why a path without % is not decoded: node:http answers 400 first', async () => {
    const rawRequest = (pathBytes: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1', () => socket.end(Buffer.concat([Buffer.from('GET /echo/a'), pathBytes, Buffer.from('b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')])));
        let text = '';
        socket.setEncoding('latin1').on('data', (c: string) => (text += c)).on('end', () => resolve(text.split('\r\n')[0])).on('error', reject);
      });
    expect(await rawRequest(Buffer.from([0x00]))).toBe('HTTP/1.1 400 Bad Request');
    expect(await rawRequest(Buffer.from([0xed, 0xa0, 0x80]))).toBe('HTTP/1.1 400 Bad Request'); // a surrogate's UTF-8 form
    expect(await rawRequest(Buffer.from('c'))).toBe('HTTP/1.1 200 OK');
  });

  it('refuses a percent-encoded NUL or lone surrogate in the path or the query, and passes plain ones', async () => {
    expect((await send('GET', '/echo/a%00b')).status).toBe(400);
    expect((await send('GET', '/echo/a%ED%A0%80')).status).toBe(400); // not valid UTF-8 once decoded
    expect((await send('GET', '/echo/ok?q=a%00')).status).toBe(400);
    expect((await send('GET', '/echo/plain?q=fine')).status).toBe(200);
    expect((await send('GET', '/echo/caf%C3%A9')).status).toBe(200);
  });
});
