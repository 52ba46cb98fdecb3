import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pooledFetch } from './pooled-fetch';

let server: Server;
let base: string;
const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/empty') {
        res.writeHead(204).end();
      } else if (req.url === '/slow') {
        setTimeout(() => res.writeHead(200).end('late'), 2000);
      } else {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '250' }).end('{"error":{"message":"slow down"}}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('pooledFetch (the OpenAI SDK\'s HTTP)', () => {
  const fetchPooled = pooledFetch();

  it('sends method, headers, query and body as given, and answers status, headers and body', async () => {
    const res = await fetchPooled(`${base}/v1/chat/completions?x=1`, { method: 'POST', headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }), body: '{"model":"m"}' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/v1/chat/completions?x=1', body: '{"model":"m"}' });
    expect(seen.at(-1)!.headers.authorization).toBe('Bearer k');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after-ms')).toBe('250');
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(await res.json()).toEqual({ error: { message: 'slow down' } });
  });

  it('answers a 204 without a body', async () => {
    const res = await fetchPooled(`${base}/empty`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('rejects with the signal\'s reason when it fires, as the global fetch does (the SDK aborts its own controller: an AbortError)', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await fetchPooled(`${base}/slow`, { signal: controller.signal }).catch((e: Error) => e);
    expect((err as Error).name).toBe('AbortError');
  });

  it('leaves a body it does not handle to the global fetch', async () => {
    const res = await fetchPooled(`${base}/form`, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    expect(res.status).toBe(429);
    expect(seen.at(-1)).toMatchObject({ url: '/form', body: 'a=1' });
    expect(seen.at(-1)!.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });
});
