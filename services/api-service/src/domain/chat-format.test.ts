import { passedOnEvent } from './chat-format';

/** The event's data lines, as an SSE parser reads them (any of CR, LF, CRLF ends a line). */
const dataLines = (event: string) => event.split(/\r\n|\r|\n/).filter((line) => line.length > 0);

describe('passedOnEvent: a provider chunk passed on to the client', () => {
  it("is the provider's text as it was written", () => {
    const data = '{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}],  "x_extra": 1.0}';
    expect(passedOnEvent(JSON.parse(data), data)).toBe(`data: ${data}\n\n`);
  });

  it.each([
    ['several data lines joined', '{"id":"c2",\n"choices":[]}'],
    ['a CR between tokens', '{"id":"c3",\r"choices":[]}'],
  ])('with %s, is encoded again on one line, the same chunk', (_, data) => {
    const chunk = JSON.parse(data);
    const event = passedOnEvent(chunk, data);
    const lines = dataLines(event);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0].slice('data: '.length))).toEqual(chunk);
  });
});
