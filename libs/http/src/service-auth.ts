import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, sha256Bytes } from '@qv/contracts';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

/**
 * The callers of internal routes (DESIGN.md §9, SECURITY.md) and the variable holding each one's
 * credential. One credential per calling service: api-service (quota-service, and operating the
 * cache), enrichment-worker (reading and filling the cache), and `metrics`, the scraper of every
 * /metrics. ledger-consumer calls no service, so it has no credential of its own.
 */
export const SERVICE_CALLERS = {
  'api-service': 'SERVICE_TOKEN_API',
  'enrichment-worker': 'SERVICE_TOKEN_WORKER',
  metrics: 'SERVICE_TOKEN_METRICS',
} as const;
export type ServiceCaller = keyof typeof SERVICE_CALLERS;
export type ServiceTokenVariable = (typeof SERVICE_CALLERS)[ServiceCaller];

/**
 * The callers each server authenticates. A server also knows the credential of a caller that has
 * no right on it (quota-service knows the worker's) so that caller is refused with 403 FORBIDDEN
 * rather than 401: a misrouted call says what it is.
 */
export const AUTHENTICATED_CALLERS: Record<string, readonly ServiceCaller[]> = {
  'quota-service': ['api-service', 'enrichment-worker', 'metrics'],
  'cache-service': ['api-service', 'enrichment-worker', 'metrics'],
  'enrichment-worker': ['metrics'],
  'ledger-consumer': ['metrics'],
  /** Its operations port (OPS_PORT) only: the public port authenticates users by API key. */
  'api-service': ['metrics'],
};

/** The credential each service sends when it calls another (ledger-consumer and llm-simulator call none). */
export const CALLS_AS: Record<string, ServiceCaller> = {
  'api-service': 'api-service',
  'enrichment-worker': 'enrichment-worker',
};

/** Routes answered without a credential: liveness and readiness say nothing worth protecting. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** A fresh credential: 32 random bytes, base64url (43 characters, header-safe). */
export function generateServiceToken(): string {
  return randomBytes(32).toString('base64url');
}

/** One fresh credential per caller, keyed by its variable (`npm start` and the test stack use this). */
export function generateServiceTokens(): Record<ServiceTokenVariable, string> {
  return Object.fromEntries(Object.values(SERVICE_CALLERS).map((name) => [name, generateServiceToken()])) as Record<ServiceTokenVariable, string>;
}

/**
 * The credential variables deployable `service` is given, with their values from `tokens`: the one
 * it sends and those it authenticates, nothing else. scripts/start.ts and libs/testing's stack
 * wire services with this; docker-compose.yml mirrors it.
 */
export function serviceCredentialEnv(service: string, tokens: Record<ServiceTokenVariable, string>): Record<string, string> {
  const callers = new Set<ServiceCaller>([...(AUTHENTICATED_CALLERS[service] ?? []), ...(CALLS_AS[service] ? [CALLS_AS[service]] : [])]);
  return Object.fromEntries([...callers].map((caller) => [SERVICE_CALLERS[caller], tokens[SERVICE_CALLERS[caller]]]));
}

/** SHA-256 of a credential. */
const digest = sha256Bytes;

/**
 * The credentials a variable holds: one, or `current,previous` while a rotation is under way
 * (a server accepts each; a caller sends the first, `outgoingCredential`). Empty for unset.
 */
export function credentialList(value: string | undefined): string[] {
  return (value ?? '').split(',').filter((t) => t.length > 0);
}

/** The credential a caller sends: the first of its variable's list. */
export function outgoingCredential(value: string | undefined): string | undefined {
  return credentialList(value)[0];
}

/** The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive, RFC 7235). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return match?.[1];
}

/**
 * Recognises the callers a server knows by the credential they present. Credentials are held as
 * SHA-256 digests and compared with `timingSafeEqual` against every known one, without an early
 * exit: the time taken depends neither on the presented token's length nor on how much of it
 * matches, nor on which caller (if any) it belongs to.
 *
 * A caller whose credential is not configured is refused (fail closed): no credential means no
 * caller can be it. Configs refuse to start without them in production (libs/config
 * `requiredInProduction`); elsewhere the middleware warns once, naming the variables.
 *
 * Rotation without downtime: a variable may hold `new,old` (see `credentialList`). A server then
 * accepts both; a caller sends the first. Servers first, then callers, then drop `old` (SECURITY.md).
 */
export class ServiceAuthenticator {
  private readonly known: { caller: ServiceCaller; digest: Buffer }[] = [];
  /** The variables of callers listed but not configured: they cannot authenticate. */
  readonly unconfigured: ServiceTokenVariable[] = [];

  /** `tokens`: each caller this server recognises, with its credential (undefined = not configured). */
  constructor(tokens: Partial<Record<ServiceCaller, string | undefined>>) {
    const seen = new Map<string, ServiceCaller>();
    for (const [caller, token] of Object.entries(tokens) as [ServiceCaller, string | undefined][]) {
      const accepted = credentialList(token);
      if (accepted.length === 0) {
        this.unconfigured.push(SERVICE_CALLERS[caller]);
        continue;
      }
      for (const credential of accepted) {
        const other = seen.get(credential);
        // Two callers sharing a credential could not be told apart, so neither's rights would hold.
        if (other && other !== caller) throw new Error(`${SERVICE_CALLERS[other]} and ${SERVICE_CALLERS[caller]} hold the same credential; each caller needs its own`);
        seen.set(credential, caller);
        this.known.push({ caller, digest: digest(credential) });
      }
    }
  }

  /** Builds the authenticator of a server from its parsed config: the listed callers, each read from its variable. */
  static fromConfig(config: Partial<Record<ServiceTokenVariable, string | undefined>>, callers: readonly ServiceCaller[]): ServiceAuthenticator {
    return new ServiceAuthenticator(Object.fromEntries(callers.map((caller) => [caller, config[SERVICE_CALLERS[caller]]])));
  }

  /** The caller `token` belongs to, or undefined. Constant time in the token (see the class). */
  identify(token: string | undefined): ServiceCaller | undefined {
    const presented = digest(token ?? '');
    let found: ServiceCaller | undefined;
    for (const { caller, digest: expected } of this.known) {
      if (timingSafeEqual(presented, expected)) found = caller;
    }
    return found;
  }

  /**
   * Authentication of every request but OPEN_PATHS, before its body is read: no credential or an
   * unknown one is 401 UNAUTHENTICATED; a known one puts its caller in `res.locals.serviceCaller`
   * for the routes' `allow` to authorise. Mount it before the body parser.
   */
  middleware(logger?: Logger): RequestHandler {
    if (this.unconfigured.length > 0) {
      logger?.warn({ unconfigured: this.unconfigured }, `service credentials not set (${this.unconfigured.join(', ')}): those callers are refused`);
    }
    return (req, res, next) => {
      if (OPEN_PATHS.has(req.path)) return next();
      const caller = this.identify(bearerToken(req.headers.authorization));
      if (!caller) {
        res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
        return next(unauthenticated());
      }
      res.locals.serviceCaller = caller;
      next();
    };
  }
}

/** The challenge sent with every 401 of an internal route. */
export const WWW_AUTHENTICATE = 'Bearer realm="quota-vault-internal"';

/** No credential, or one no caller holds (sent with WWW_AUTHENTICATE). */
export function unauthenticated(): AppError {
  return new AppError('UNAUTHENTICATED', 'This route needs a service credential: Authorization: Bearer <token>');
}

/** A known caller without the right to call `method path`. */
export function forbidden(caller: ServiceCaller, method: string, path: string): AppError {
  return new AppError('FORBIDDEN', `The ${caller} credential may not call ${method} ${path}`);
}

/**
 * A route guard made by `allow`, carrying its callers so the routes can be listed with their rights.
 * Generic in the route's parameters, so a route's handler keeps the types Express infers from its path.
 */
export interface AllowGuard {
  <P>(req: Request<P>, res: Response, next: NextFunction): void;
  readonly allowedCallers: readonly ServiceCaller[];
}

/**
 * The right to call one route: the first handler of every internal route, so the rights table
 * sits next to the routes (`router.post(path, allow('api-service'), handler)`). A caller not
 * listed is 403 FORBIDDEN. Without the authenticator in front (no caller recorded) it refuses
 * with 401: a route is never open by omission.
 */
export function allow(...callers: ServiceCaller[]): AllowGuard {
  const allowed = new Set<string>(callers);
  const guard = (req: Request<unknown>, res: Response, next: NextFunction): void => {
    const caller = res.locals.serviceCaller as ServiceCaller | undefined;
    if (!caller) return next(unauthenticated());
    if (!allowed.has(caller)) return next(forbidden(caller, req.method, req.route?.path ?? req.path));
    next();
  };
  return Object.assign(guard, { allowedCallers: [...callers] as readonly ServiceCaller[] }) as AllowGuard;
}

/** One route of an app or router: its method, path and who may call it (undefined: no `allow` guard). */
export interface ListedRoute {
  method: string;
  path: string;
  callers: readonly ServiceCaller[] | undefined;
}

interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean>; stack: { handle: unknown }[] };
  handle?: { stack?: RouteLayer[] } & Partial<AllowGuard>;
  rawPath?: unknown;
  slash?: boolean;
}

/**
 * Every route of an Express app or router, read from its router stack (routers mounted with
 * `use` included), with the callers of its `allow` guard. Tests enumerate internal routes with
 * this, so a route added without a guard, or missed by a hand-kept list, cannot go unnoticed.
 */
export function listRoutes(appOrRouter: { router?: unknown; stack?: unknown }): ListedRoute[] {
  const root = (appOrRouter.router ?? appOrRouter) as { stack: RouteLayer[] };
  const out: ListedRoute[] = [];
  const walk = (stack: RouteLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const guard = layer.route.stack.map((l) => l.handle as Partial<AllowGuard>).find((h) => Array.isArray(h?.allowedCallers));
        for (const method of Object.keys(layer.route.methods)) out.push({ method: method.toUpperCase(), path: layer.route.path, callers: guard?.allowedCallers });
      } else if (Array.isArray(layer.handle?.stack)) {
        // Only routers mounted at the root: a prefix would change the paths listed.
        if (!layer.slash) throw new Error(`listRoutes: a router mounted at ${String(layer.rawPath)} is not supported`);
        walk(layer.handle.stack);
      }
    }
  };
  walk(root.stack);
  return out;
}
