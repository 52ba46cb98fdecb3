import { AppError } from '@qv/contracts';
import type { RequestHandler } from 'express';
import type { Principal, PrincipalResolver } from '../repositories/auth.repository';

/** `Authorization: Bearer <api key>` → res.locals.principal, else 401 UNAUTHENTICATED. */
export function authenticate(principals: PrincipalResolver): RequestHandler {
  return async (req, res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new AppError('UNAUTHENTICATED', 'Missing or malformed Authorization: Bearer <api key>'));
    const principal = await principals.resolve(match[1]);
    if (!principal) return next(new AppError('UNAUTHENTICATED', 'Unknown or revoked API key'));
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
