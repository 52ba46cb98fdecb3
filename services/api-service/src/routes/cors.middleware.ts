import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { QUOTA_HEADER_NAMES } from '../domain/quota-headers';

export interface CorsOptions {
  /** Exact origins (`https://app.example.com`) whose pages may call the API; none: no CORS at all. */
  origins: readonly string[];
  /** How long a browser may reuse a preflight's answer. */
  maxAgeSeconds: number;
}

/** Methods of the public and admin routes. */
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
/** Request headers a page may send beyond the CORS-safelisted ones. */
const ALLOW_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-Request-Id';
/** Response headers a page may read beyond the CORS-safelisted ones. */
const EXPOSE_HEADERS = [...QUOTA_HEADER_NAMES, 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id'].join(', ');

/**
 * CORS for browser pages served from `origins`. Mounted before authentication: a preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) carries no key, and is answered 204 here
 * for an allowed origin. An allowed origin's other requests get Allow-Origin (the origin echoed,
 * never `*`) and Expose-Headers, errors included (`corsOnError`), so the page can read a 401 or a
 * 429 and its Retry-After. No credentials mode: the key travels in Authorization, not in cookies.
 *
 * An origin not listed gets no CORS header at all (the browser then refuses to hand the answer to
 * the page) and its preflight goes on like any OPTIONS request, as if CORS were off. With no
 * origins configured nothing is mounted. `Vary: Origin` is on every response while any origin is
 * allowed, so a shared cache never serves one origin's answer to another.
 */
export function cors(options: CorsOptions): { middleware: RequestHandler; onError: ErrorRequestHandler } | undefined {
  if (options.origins.length === 0) return undefined;
  const allowed = new Set(options.origins);
  const maxAge = String(options.maxAgeSeconds);

  /** Sets the headers of an allowed origin's answer; false when the origin is not allowed. */
  const decorate = (req: Request, res: Response): boolean => {
    res.vary('Origin');
    const origin = req.header('origin');
    if (!origin || !allowed.has(origin)) return false;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    return true;
  };

  const middleware: RequestHandler = (req, res, next) => {
    if (!decorate(req, res)) return next();
    if (req.method === 'OPTIONS' && req.header('access-control-request-method')) {
      res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', maxAge);
      res.status(204).end();
      return;
    }
    next();
  };
  // An error raised before `middleware` ran (a body that is not JSON, refused by the edge guard)
  // still reaches the page readable.
  const onError: ErrorRequestHandler = (err, req, res, next) => {
    if (!res.headersSent) decorate(req, res);
    next(err);
  };
  return { middleware, onError };
}
