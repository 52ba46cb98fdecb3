import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { responseSink } from './response-sink';

/** Counts the writes the kernel is asked for on the server's side of a socket (one `_write` or `_writev` each). */
function countWrites(socket: Socket): { count: number } {
  const counter = { count: 0 };
  const target = socket as unknown as { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown };
  const write = target._write.bind(socket);
  const writev = target._writev.bind(socket);
  target._write = (...a) => (counter.count++, write(...a));
  target._writev = (...a) => (counter.count++, writev(...a));
  return counter;
}

/**
 * A real HTTP server whose one route hands its response to the test, and a raw TCP client that
 * hands the test each piece of the response as the socket delivered it.
 */
async function harness(): Promise<{ server: Server; response: Promise<ServerResponse>; socket: Socket; nextPiece: () => Promise<string> }> {
  let handed!: (res: ServerResponse) => void;
  const response = new Promise<ServerResponse>((resolve) => (handed = resolve));
  const server = createServer((_req, res) => handed(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const waiting: Array<(piece: string) => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (piece: string) => {
    waiting.shift()?.(piece);
  });
  socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  const nextPiece = () => new Promise<string>((resolve) => waiting.push(resolve));
  return { server, response, socket, nextPiece };
}

/** A limit no test of the writes reaches. */
const roomy = { maxBufferedBytes: 1 << 30, onTooSlow: () => undefined };

describe('responseSink', () => {
  let h: Awaited<ReturnType<typeof harness>>;
  beforeEach(async () => (h = await harness()));
  afterEach(async () => {
    h.socket.destroy();
    h.server.closeAllConnections();
    h.server.close();
  });

  it("sends the headers and the events of one turn in one socket write, and a later turn's events at once, without waiting for the end", async () => {
    const res = await h.response;
    const writes = countWrites(res.socket as Socket);
    const sink = responseSink(res, roomy);
    const first = h.nextPiece();
    sink.start({ 'X-QV-Call-Id': 'chc_1' }, 0);
    sink.send('data: {"n":1}\n\n');
    sink.send('data: {"n":2}\n\n');
    sink.send('data: {"n":3}\n\n');
    const piece = await first; // the stream is still open: nothing waits for its end
    expect(piece).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(piece).toMatch(/\r\nx-qv-call-id: chc_1\r\n/i);
    expect(piece).toMatch(/\r\ncontent-type: text\/event-stream; charset=utf-8\r\n/i);
    expect(piece).toContain('data: {"n":1}\n\n');
    expect(piece).toContain('data: {"n":3}\n\n'); // all three in the piece that carried the headers
    expect(writes.count).toBe(1);

    const second = h.nextPiece();
    sink.send('data: {"n":4}\n\n');
    expect(await second).toContain('data: {"n":4}\n\n');
    expect(writes.count).toBe(2);
    const last = h.nextPiece();
    sink.end('data: [DONE]\n\n');
    expect(await last).toMatch(/data: \[DONE\]\n\n\r\n0\r\n\r\n$/); // the last event and the chunked end together
    expect(writes.count).toBe(3);
  });

  it('drops events once the client is gone, and ends nothing twice', async () => {
    const res = await h.response;
    const sink = responseSink(res, roomy);
    sink.start({}, 0);
    sink.end('data: [DONE]\n\n');
    expect(() => sink.send('data: {"late":true}\n\n')).not.toThrow();
    expect(() => sink.end('data: [DONE]\n\n')).not.toThrow();
    await once(res, 'finish');
  });

  it('disconnects a client that stops reading once more than the limit waits for it, once', async () => {
    const res = await h.response;
    h.socket.pause(); // reads nothing more: the kernel's buffers fill, then the response's
    const slow: number[] = [];
    const sink = responseSink(res, { maxBufferedBytes: 256 * 1024, onTooSlow: (buffered) => slow.push(buffered) });
    sink.start({}, 0);
    const event = `data: ${JSON.stringify({ text: 'x'.repeat(1000) })}\n\n`;
    for (let i = 0; i < 20_000 && !res.destroyed; i++) {
      sink.send(event);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let the socket hand the kernel what it takes
    }
    expect(res.destroyed).toBe(true);
    expect(slow).toHaveLength(1);
    expect(slow[0]).toBeGreaterThan(256 * 1024);
    expect(() => sink.send(event)).not.toThrow(); // the call goes on to settle, writing nothing
    expect(() => sink.end('data: [DONE]\n\n')).not.toThrow();
  });
});
