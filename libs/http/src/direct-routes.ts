import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { unsafeBodyError } from './edge-guard';
import { errorAnswer } from './errors';
import { readableAsJson, readJsonBody } from './json-body';
import { requestDuration, requestIdFrom } from './request-context';
import { bearerToken, forbidden, unauthenticated, WWW_AUTHENTICATE, type AllowGuard, type ServiceAuthenticator, type ServiceCaller } from './service-auth';
import type { ListenOptions } from './server';
import { parseOr400 } from './validate';

/** A route's answer: a value to serialise, or JSON already serialised (a cache hit's stored entry). */
export type JsonAnswer = { status: number; json: unknown } | { status: number; raw: string };

export interface JsonRouteContext {
  caller: ServiceCaller;
  requestId: string;
}

/** One `POST <path>` route taking a JSON body (see `postJson`). */
export interface JsonRoute {
  readonly path: string;
  readonly guard: AllowGuard;
  readonly schema: z.ZodType;
  readonly handle: (body: unknown, ctx: JsonRouteContext) => Promise<JsonAnswer>;
}

/**
 * A `POST path` route: who may call it (`allow(...)`), the schema of its body, and its handler, which
 * answers or throws (an AppError is answered as every service answers it).
 */
export function postJson<S extends z.ZodType>(path: string, guard: AllowGuard, schema: S, handle: (body: z.infer<S>, ctx: JsonRouteContext) => Promise<JsonAnswer>): JsonRoute {
  return { path, guard, schema, handle: handle as JsonRoute['handle'] };
}

export interface DirectJsonRoutesOptions {
  /** The app's authenticator (the one given to createHttpApp). */
  auth: ServiceAuthenticator;
  logger: Logger;
  /** The app's registry: requests served here are observed in its `http_request_duration_seconds`. */
  metrics: Registry;
  /** In bytes; give createHttpApp the same number. */
  bodyLimit: number;
}

export interface DirectJsonRoutes {
  /** `listen(app, port, host, { before })`: serves the routes' requests, and returns false for all others. */
  before: NonNullable<ListenOptions['before']>;
  /** The same routes on Express, for the requests `before` leaves to it (see below); mount it with the app's routes. */
  router: Router;
}

/**
 * Hot internal routes served on node:http, without Express's router, middleware chain and
 * body-parser, which cost a large share of each call's CPU. Each request is answered exactly as
 * createHttpApp's app answers it, step for step: nosniff and X-Request-Id, 401 before the body is
 * read, 413 / 400 for a body too large or not JSON, the edge guard, 403, the schema (400), then the
 * handler; errors through `errorAnswer`; the duration histogram with Express's labels (`route` is
 * 'unmatched' until the route is reached, as Express records it).
 *
 * `before` takes a request only when its URL is exactly a route's path and its body is JSON read as
 * body-parser reads it (`readableAsJson`). Anything else (a query string, a trailing slash,
 * a compressed body, another content type) goes to Express and its `router`, which serves the same
 * handlers: one declaration per route, and Express stays the reference for every corner case. The
 * one difference is on purpose: a body over the limit is refused without being read to its end, and
 * the connection is closed.
 */
export function directJsonRoutes(routes: readonly JsonRoute[], options: DirectJsonRoutesOptions): DirectJsonRoutes {
  const table = new Map(routes.map((route) => [route.path, route]));
  const duration = requestDuration(options.metrics);
  const { auth, logger, bodyLimit } = options;

  async function serve(route: JsonRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const end = duration.startTimer();
    let routeLabel = 'unmatched';
    res.on('finish', () => end({ method: 'POST', route: routeLabel, status: String(res.statusCode) }));
    const headers: Record<string, string> = { 'X-Content-Type-Options': 'nosniff', 'X-Request-Id': requestId };
    try {
      const caller = auth.identify(bearerToken(req.headers.authorization));
      if (!caller) {
        headers['WWW-Authenticate'] = WWW_AUTHENTICATE;
        throw unauthenticated();
      }
      const body = await readJsonBody(req, bodyLimit);
      if (!body.ok) {
        if (body.tooLarge) headers.Connection = 'close';
        throw body.error;
      }
      const unsafe = body.mayHoldUnsafeText ? unsafeBodyError(body.value) : undefined;
      if (unsafe) throw unsafe;
      routeLabel = route.path;
      if (!route.guard.allowedCallers.includes(caller)) throw forbidden(caller, 'POST', route.path);
      const answer = await route.handle(parseOr400(route.schema, body.value), { caller, requestId });
      writeAnswer(res, answer, headers);
    } catch (err) {
      const answer = errorAnswer(err, logger, { requestId, path: route.path });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      writeAnswer(res, { status: answer.status, json: answer.body }, { ...headers, ...answer.headers });
    }
  }

  const before: DirectJsonRoutes['before'] = (req, res) => {
    if (req.method !== 'POST') return false;
    const route = table.get(req.url ?? '');
    if (!route || !readableAsJson(req)) return false;
    void serve(route, req, res);
    return true;
  };

  const router = Router();
  for (const route of routes) {
    router.post(route.path, route.guard, async (req, res: Response) => {
      const body = parseOr400(route.schema, req.body);
      const ctx = { caller: res.locals.serviceCaller as ServiceCaller, requestId: res.locals.requestId as string };
      writeAnswer(res, await route.handle(body, ctx));
    });
  }
  return { before, router };
}

/** Writes an answer as Express's `res.json` / `res.type('application/json').send` would (Content-Type, Content-Length). */
export function writeAnswer(res: ServerResponse, answer: JsonAnswer, headers: Record<string, string> = {}): void {
  const text = 'raw' in answer ? answer.raw : JSON.stringify(answer.json);
  res.writeHead(answer.status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
