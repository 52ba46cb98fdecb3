import { AppError } from '@qv/contracts';
import type { RequestHandler } from 'express';
import { clientKey } from '../domain/client-address';
import type { AuthFailureThrottle } from '../repositories/auth-throttle';
import type { Principal, PrincipalResolver } from '../repositories/auth.repository';

export interface AuthenticateDeps {
  principals: PrincipalResolver;
  /** Failed authentications per client; without it wrong keys are never throttled. */
  authThrottle?: AuthFailureThrottle;
}

const rateLimited = (waitMs: number) =>
  new AppError('AUTH_RATE_LIMITED', 'Too many failed authentications from this client; retry later', { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) });

/**
 * A key sent in header `name` (Anthropic's SDK sends `x-api-key`) taken as the bearer key, for
 * `authenticate` behind it; an `Authorization` header, when there is one, wins.
 */
export function keyFromHeader(name: string): RequestHandler {
  return (req, _res, next) => {
    const key = req.header(name);
    if (key !== undefined && req.header('authorization') === undefined) req.headers.authorization = `Bearer ${key}`;
    next();
  };
}

/**
 * `Authorization: Bearer <api key>` → res.locals.principal, else 401 UNAUTHENTICATED; a client
 * past its failure limit gets 429 AUTH_RATE_LIMITED with Retry-After (see AuthFailureThrottle).
 * Every answer behind it is `Cache-Control: no-store`: it carries a user's data or a key, and a
 * refusal must not be replayed from a cache once the key works either.
 */
export function authenticate(deps: AuthenticateDeps): RequestHandler {
  const { principals, authThrottle } = deps;
  return async (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    // Not counted as a failure: no key was tried (a page's first request, a misconfigured client).
    if (!match) return next(new AppError('UNAUTHENTICATED', 'Missing or malformed Authorization: Bearer <api key>'));
    const apiKey = match[1];
    const client = clientKey(req.socket.remoteAddress);

    const blockedMs = authThrottle?.blockedFor(client) ?? 0;
    if (blockedMs > 0) {
      // Blocked: only a key this replica already holds as valid passes; nothing is looked up.
      const known = principals.cached(apiKey);
      if (!known) return next(rateLimited(blockedMs));
      res.locals.principal = known;
      return next();
    }

    const principal = await principals.resolve(apiKey);
    if (!principal) {
      const waitMs = (await authThrottle?.recordFailure(client)) ?? 0;
      return next(waitMs > 0 ? rateLimited(waitMs) : new AppError('UNAUTHENTICATED', 'Unknown or revoked API key'));
    }
    res.locals.principal = principal;
    next();
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  const principal = res.locals.principal as Principal | undefined;
  if (principal?.role !== 'admin') return next(new AppError('FORBIDDEN', 'This route needs an admin API key'));
  next();
};

export function principalOf(res: { locals: Record<string, unknown> }): Principal {
  return res.locals.principal as Principal;
}
