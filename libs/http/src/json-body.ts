import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
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
export type JsonBody = { ok: true; value: unknown; mayHoldUnsafeText: boolean } | { ok: false; error: Error; tooLarge: boolean; parserType: BodyParserErrorType };

/** body-parser's `type` for the same failure (what error handlers written for express.json look at). */
type BodyParserErrorType = 'entity.too.large' | 'entity.parse.failed' | 'request.aborted';

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
      if (!settled) settle({ ok: false, error: bodyUnreadable(), tooLarge: false, parserType: 'request.aborted' });
    };
    req.on('error', onAbort).on('close', onAbort);
  });
}

function tooLarge(): JsonBody {
  return { ok: false, error: bodyTooLarge(), tooLarge: true, parserType: 'entity.too.large' };
}

function parse(bytes: Buffer): JsonBody {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return { ok: true, value: {}, mayHoldUnsafeText: false };
  const first = /[^ \t\n\r]/.exec(text)?.[0];
  if (first !== '{' && first !== '[') return { ok: false, error: bodyNotJson(), tooLarge: false, parserType: 'entity.parse.failed' };
  try {
    return { ok: true, value: JSON.parse(text), mayHoldUnsafeText: utf8JsonMayHoldUnsafeText(bytes) };
  } catch {
    return { ok: false, error: bodyNotJson(), tooLarge: false, parserType: 'entity.parse.failed' };
  }
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A body limit as body-parser reads it (`bytes`: a number of bytes, or `512kb`, `1mb`, `1.5MB`…), in bytes. */
export function limitInBytes(limit: string | number): number {
  if (typeof limit === 'number') return limit;
  const match = /^(\d+(?:\.\d+)?) *(b|kb|mb|gb)?$/i.exec(limit);
  if (!match) throw new Error(`Not a body limit: ${limit}`);
  return Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]);
}

/**
 * `express.json()`, with the common case read by `readJsonBody`: a body `readableAsJson` accepts
 * (JSON in UTF-8, not compressed) is read and parsed here as body-parser would — the same value, the
 * same errors, with body-parser's `type` and `status` (json-body-middleware.test.ts sends both the
 * same requests) — for a fraction of body-parser's CPU (its type, charset and stream plumbing were
 * ~5 % of api-service's samples per accepted item). A body over the limit is refused without being
 * read to its end, and the connection is closed. Every other request goes to `fallback`
 * (express.json, which inflates, decodes other charsets, and leaves other types alone). `note`
 * learns whether the text may hold an unsafe string, as express.json's `verify` does.
 */
export function jsonBodyMiddleware(limit: string | number, fallback: RequestHandler, note: (req: IncomingMessage, mayHoldUnsafeText: boolean) => void): RequestHandler {
  const bytes = limitInBytes(limit);
  return (req, res, next) => {
    if (!readableAsJson(req)) return fallback(req, res, next);
    readJsonBody(req, bytes).then((body) => {
      if (!body.ok) {
        if (body.tooLarge) res.setHeader('Connection', 'close');
        // With body-parser's `type` and `status` too, for the error handlers that read those.
        return next(Object.assign(body.error, { type: body.parserType, status: body.tooLarge ? 413 : 400 }));
      }
      req.body = body.value;
      note(req, body.mayHoldUnsafeText);
      next();
    }, next);
  };
}
