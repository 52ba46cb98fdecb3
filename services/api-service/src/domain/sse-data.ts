/**
 * The `data` of each event of a server-sent stream, `[DONE]` excluded, as the events complete:
 * one array per piece of the body that completed any (a provider writes many events per network
 * read, and one await per read costs less than one per event). Linear in the stream: only the new
 * text is searched for a boundary (one that straddles two pieces is 3 characters back at most).
 * An event of one `data: ` line, what every provider sends, is sliced as is; any other (several
 * `data` lines, other fields, comments) goes through the spec's line-by-line reading.
 */
export async function* serverSentData(body: AsyncIterable<Buffer | string>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder();
  const boundary = /\r?\n\r?\n/g;
  let pending = '';
  for await (const piece of body) {
    boundary.lastIndex = Math.max(0, pending.length - 3);
    pending += typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
    const events: string[] = [];
    let start = 0;
    for (let m = boundary.exec(pending); m !== null; m = boundary.exec(pending)) {
      const data = dataOf(pending, start, m.index);
      start = m.index + m[0].length;
      if (data && data !== '[DONE]') events.push(data);
    }
    pending = pending.slice(start);
    if (events.length > 0) yield events;
  }
}

/** The data of the event in `text[start, end)`: its `data:` lines' values joined by newlines. */
function dataOf(text: string, start: number, end: number): string {
  if (text.startsWith('data:', start)) {
    const lineBreak = text.indexOf('\n', start);
    if (lineBreak === -1 || lineBreak >= end) return text.slice(start + (text[start + 5] === ' ' ? 6 : 5), end);
  }
  return text
    .slice(start, end)
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line[5] === ' ' ? 6 : 5))
    .join('\n');
}
