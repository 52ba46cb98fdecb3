import { serverSentData } from './sse-data';

async function read(pieces: Array<string | Buffer>): Promise<string[][]> {
  async function* body() {
    yield* pieces;
  }
  const out: string[][] = [];
  for await (const events of serverSentData(body())) out.push(events);
  return out;
}

describe('serverSentData', () => {
  it('gives the events each piece completes together, [DONE] left out', async () => {
    expect(await read(['data: {"a":1}\n\ndata: {"a":2}\n\n', 'data: {"a":3}\n\ndata: [DONE]\n\n'])).toEqual([['{"a":1}', '{"a":2}'], ['{"a":3}']]);
  });

  it('joins an event cut anywhere across pieces, its boundary included, and CRLF line ends', async () => {
    const stream = 'data: {"x":"first"}\r\n\r\ndata:{"x":"second"}\n\n';
    for (let cut = 1; cut < stream.length; cut++) {
      const events = (await read([stream.slice(0, cut), stream.slice(cut)])).flat();
      expect(events).toEqual(['{"x":"first"}', '{"x":"second"}']);
    }
  });

  it('reads the spec\'s other shapes line by line: several data lines, other fields, comments', async () => {
    const stream = ': a comment\nevent: message\ndata: {"a":\ndata: 1}\nid: 7\n\nid: 8\ndata: {"b":2}\n\n: only a comment\n\n';
    expect((await read([stream])).flat()).toEqual(['{"a":\n1}', '{"b":2}']);
  });

  it('decodes UTF-8 split inside a character across Buffers', async () => {
    const bytes = Buffer.from('data: {"t":"café ☕"}\n\n');
    const at = bytes.indexOf(0xa9); // inside é's two bytes
    expect((await read([bytes.subarray(0, at), bytes.subarray(at)])).flat()).toEqual(['{"t":"café ☕"}']);
  });

  it('yields nothing for a piece that completes no event, and drops an unfinished last event', async () => {
    expect(await read(['data: {"a"', ':1}\n', '\n', 'data: {"never":"ended"}'])).toEqual([['{"a":1}']]);
  });
});
