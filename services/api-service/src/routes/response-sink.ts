import type { ServerResponse } from 'node:http';
import type { EventSink } from '../use-cases/chat-completion';

export const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' };

/**
 * Writes events to the client while it is there; once it is gone they are dropped (the call goes on
 * to settle). One socket write per turn of the event loop: node:http corks a response's writes until
 * the turn ends, so the headers are not flushed on their own but leave with the first event, and the
 * last event leaves with the end of the body.
 */
export function responseSink(res: ServerResponse): EventSink {
  const open = () => !res.destroyed && !res.writableEnded;
  return {
    start(headers) {
      res.statusCode = 200;
      for (const [name, value] of Object.entries({ ...headers, ...SSE_HEADERS })) res.setHeader(name, value);
    },
    send(event) {
      if (open()) res.write(event);
    },
    end(lastEvent) {
      if (open()) res.end(lastEvent);
    },
  };
}

