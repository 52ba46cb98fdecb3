import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitForItem } from './wait-for-item';

/** An api-service stand-in whose GET /v1/items/itm_1 answers the statuses given, the last one from then on. */
async function answering(...statuses: string[]): Promise<{ url: string; server: Server }> {
  let asked = 0;
  const server = createServer((req, res) => {
    const status = statuses[Math.min(asked++, statuses.length - 1)];
    if (req.headers.authorization !== 'Bearer key_1') return void res.writeHead(401).end();
    res.writeHead(status === '404' ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === '404' ? { error: { code: 'NOT_FOUND', message: 'item not found' } } : { item: { id: 'itm_1', status } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('waitForItem', () => {
  const servers: Server[] = [];
  const api = async (...statuses: string[]) => {
    const { url, server } = await answering(...statuses);
    servers.push(server);
    return url;
  };
  afterAll(() => servers.forEach((s) => s.close()));

  it('returns the item once it is DONE or FAILED', async () => {
    expect(await waitForItem(await api('PENDING', 'ENRICHING', 'DONE'), 'key_1', 'itm_1', { intervalMs: 5 })).toEqual({ id: 'itm_1', status: 'DONE' });
    expect((await waitForItem(await api('ENRICHING', 'FAILED'), 'key_1', 'itm_1', { intervalMs: 5 })).status).toBe('FAILED');
  });

  it('waits for the statuses asked for', async () => {
    expect((await waitForItem(await api('FAILED', 'PENDING', 'DONE'), 'key_1', 'itm_1', { until: ['DONE'], intervalMs: 5 })).status).toBe('DONE');
  });

  // Each stand-in answers one thing from its first request on: how many requests fit in the
  // deadline depends on the machine's load, what the last of them saw does not.
  it('fails past its deadline naming the last status seen, or the last error answer', async () => {
    await expect(waitForItem(await api('ENRICHING'), 'key_1', 'itm_1', { timeoutMs: 50, intervalMs: 5 })).rejects.toThrow('item itm_1 not DONE or FAILED within 50 ms; last seen: ENRICHING');
    await expect(waitForItem(await api('404'), 'key_1', 'itm_1', { until: ['DONE'], timeoutMs: 50, intervalMs: 5 })).rejects.toThrow(/not DONE within 50 ms; last seen: 404 .*NOT_FOUND/);
  });
});
