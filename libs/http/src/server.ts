import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError, httpStatusOf, type ErrorCode } from '@qv/contracts';
import type { Express } from 'express';

export interface ListenOptions {
  /** Sees each request before the app; answering it and returning true keeps it from the app (early refusals). */
  before?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish, then closes idle keep-alive sockets. */
  close: () => Promise<void>;
}

/** Connections the kernel queues before accept(); Linux caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 4096;

/**
 * Binds `host`, the service's parsed HOST (libs/config commonEnv): loopback unless a deployment such
 * as docker-compose asks for 0.0.0.0, so a dev machine never exposes internal services.
 */
export function listen(app: Express, port: number, host: string, options: ListenOptions = {}): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const { before } = options;
    const server = createServer(before ? (req, res) => before(req, res) || app(req, res) : app);
    // A deep accept queue: a burst of connections waits for accept() instead of being reset.
    server.listen(port, host, LISTEN_BACKLOG, () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolve({
        server,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
    server.keepAliveTimeout = 65_000;
    server.on('clientError', answerClientError);
    server.on('error', reject);
  });
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, with a deadline after which the process exits anyway.
 * The line `ready <name> <port>` on stdout is what the process supervisor and the e2e tests wait for.
 */
export function onShutdown(stop: () => Promise<void>, log: { info: (msg: string) => void; error: (o: unknown, msg: string) => void }, timeoutMs = 10_000): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, shutting down`);
    const deadline = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown deadline passed, exiting');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error(err, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

export function announceReady(service: string, port: number): void {
  process.stdout.write(`ready ${service} ${port}\n`);
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Node's HTTP parser refuses a malformed request, oversized headers or a request too slow to
 * arrive before any route runs, and by default answers with an empty body. This answers in the
 * one error shape every client parses, then closes the connection (its stream is unusable).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'VALIDATION_FAILED';
  const message = code === 'HEADERS_TOO_LARGE' ? 'The request headers are too large' : code === 'REQUEST_TIMEOUT' ? 'The request did not arrive in time' : 'The request could not be parsed as HTTP';
  const status = httpStatusOf(code);
  const body = JSON.stringify(new AppError(code, message).toBody());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
}
