import type { IncomingMessage } from 'node:http';
import { utf8JsonMayHoldUnsafeText } from './edge-guard';
import { bodyNotJson, bodyTooLarge, bodyUnreadable } from './errors';

/**
 * Whether `readJsonBody` reads this request as Express's `express.json()` would: a body is declared,
 * it is not compressed, and its type is JSON in UTF-8 (the form every internal client sends). Any
 * other request is left to Express, whose body-parser handles the rest (inflating, other charsets
 * refused, other types left unparsed).
 */
export function readableAsJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return (
    req.headers['content-encoding'] === undefined &&
    (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) &&
    type !== undefined &&
    JSON_UTF8.test(type)
  );
}

const JSON_UTF8 = /^application\/json[ \t]*(?:;[ \t]*charset=(?:utf-8|"utf-8")[ \t]*)?$/i;

/**
 * The outcome of reading a body: its value (and whether its text may hold a string the edge guard
 * refuses), or the error to answer (the body was not read to its end when too large).
 */
export type JsonBody = { ok: true; value: unknown; mayHoldUnsafeText: boolean } | { ok: false; error: Error; tooLarge: boolean };

/**
 * The body of a request `readableAsJson` accepted, parsed as body-parser's strict JSON parser does:
 * a leading BOM dropped, an empty body is `{}`, anything but an object or array is not JSON.
 * A body over `limit` bytes, declared or streamed, is refused the moment that is known: the rest is
 * not read (the caller closes the connection).
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<JsonBody> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(tooLarge());
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (body: JsonBody) => {
      settled = true;
      resolve(body);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData).off('end', onEnd);
        chunks.length = 0;
        settle(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(parse(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.on('data', onData).on('end', onEnd);
    // Cut short (the client went away): what body-parser answers, though nobody may be left to read it.
    // 'close' also follows every complete request: the error (and its stack) only when nothing was settled.
    const onAbort = () => {
      if (!settled) settle({ ok: false, error: bodyUnreadable(), tooLarge: false });
    };
    req.on('error', onAbort).on('close', onAbort);
  });
}

function tooLarge(): JsonBody {
  return { ok: false, error: bodyTooLarge(), tooLarge: true };
}

function parse(bytes: Buffer): JsonBody {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return { ok: true, value: {}, mayHoldUnsafeText: false };
  const first = /[^ \t\n\r]/.exec(text)?.[0];
  if (first !== '{' && first !== '[') return { ok: false, error: bodyNotJson(), tooLarge: false };
  try {
    return { ok: true, value: JSON.parse(text), mayHoldUnsafeText: utf8JsonMayHoldUnsafeText(bytes) };
  } catch {
    return { ok: false, error: bodyNotJson(), tooLarge: false };
  }
}
