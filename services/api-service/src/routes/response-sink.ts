import type { ServerResponse } from 'node:http';
import type { EventSink } from '../use-cases/chat-completion';

export const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' };

/** How far a client may fall behind a stream before it is let go. */
export interface SinkLimits {
  /** Bytes written and not yet taken by the client (CHAT_STREAM_BUFFER_BYTES). */
  maxBufferedBytes: number;
  /** Told once, when a client that fell that far behind is disconnected. */
  onTooSlow(bufferedBytes: number): void;
}

/**
 * Writes events to the client while it is there; once it is gone they are dropped (the call goes on
 * to settle). One socket write per turn of the event loop: node:http corks a response's writes until
 * the turn ends, so the headers are not flushed on their own but leave with the first event, and the
 * last event leaves with the end of the body.
 *
 * The provider's stream is read at its own pace whatever the client does (what it produced is
 * owed, and settled, to the last token), so a client that reads slower than the provider writes
 * would leave the whole answer in this process's memory, a hundred bytes and more per token: one
 * tenant's slow readers could fill it. A client more than `maxBufferedBytes` behind is
 * disconnected, as one that left; the call is settled all the same.
 */
export function responseSink(res: ServerResponse, limits: SinkLimits): EventSink {
  const open = () => !res.destroyed && !res.writableEnded;
  return {
    start(headers) {
      res.statusCode = 200;
      for (const [name, value] of Object.entries({ ...headers, ...SSE_HEADERS })) res.setHeader(name, value);
    },
    send(event) {
      if (!open()) return;
      res.write(event);
      if (res.writableLength > limits.maxBufferedBytes) {
        limits.onTooSlow(res.writableLength);
        res.destroy();
      }
    },
    end(lastEvent) {
      if (open()) res.end(lastEvent);
    },
  };
}
