import { LlmError } from '../errors';

/** What LLM_MAX_ANSWER_BYTES is unless set: a 128,000-token answer streamed by the simulator is 27.6 MB of events. */
export const DEFAULT_MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * A provider's body passed on piece by piece until it passes `maxBytes`, then an
 * `invalid_response` (and the body is let go: leaving the loop destroys it). A provider answers
 * within its cap; one that does not (a broken server, a proxy that streams forever) must not
 * fill this process's memory with one call.
 */
export async function* boundedBody<T extends Buffer | string>(body: AsyncIterable<T>, maxBytes: number, name: string): AsyncGenerator<T> {
  let bytes = 0;
  for await (const piece of body) {
    bytes += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
    if (bytes > maxBytes) throw new LlmError('invalid_response', `${name}: the answer passed ${maxBytes} bytes (LLM_MAX_ANSWER_BYTES)`);
    yield piece;
  }
}

/** A whole body as text, read through `boundedBody`. */
export async function readBounded(body: AsyncIterable<Buffer>, maxBytes: number, name: string): Promise<string> {
  const pieces: Buffer[] = [];
  for await (const piece of boundedBody(body, maxBytes, name)) pieces.push(piece);
  return Buffer.concat(pieces).toString('utf8');
}

/** A body's first `maxBytes` as text, the rest let go (an error's body: only its start is shown). */
export async function readStart(body: AsyncIterable<Buffer>, maxBytes: number): Promise<string> {
  const pieces: Buffer[] = [];
  let bytes = 0;
  for await (const piece of body) {
    pieces.push(piece);
    bytes += piece.length;
    if (bytes >= maxBytes) break;
  }
  return Buffer.concat(pieces).subarray(0, maxBytes).toString('utf8');
}
