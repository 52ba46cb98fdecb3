import { AppError, ChargeRequest, ReleaseRequest, type ChargeResponse, type ReservationResponse } from '@qv/contracts';
import type { SqlPort } from '@qv/db';
import { allow, KeyedBatcher, parseOr400, postJson, type JsonRoute, type KeyedBatcherOptions, type KeyedGate } from '@qv/http';
import { charge, chargeMany, quotaStatus, release, toQuotaExceededError, type ChargeRefused, type ChargeResult } from '@qv/quota';
import type { Counter, Histogram } from '@qv/telemetry';
import { Router } from 'express';
import type { Logger } from 'pino';

export interface QuotaRoutesDeps {
  /** node-postgres: every route is one or two statements of prisma/functions. */
  db: SqlPort;
  logger: Logger;
  reservationTtlSeconds: number;
  clock: () => Date;
  charges: Counter<'outcome' | 'code'>;
  chargeDuration: Histogram<'outcome'>;
  /** Charges of one user queue on that user's lock in PostgreSQL: admitted a few at a time, so they hold a few pooled connections, not all. */
  admission: KeyedGate;
  /** Decides the single charges that arrive together in one statement (chargeGroup). */
  group: KeyedBatcher<ChargeRequest, ChargeResult>;
}

/**
 * Group commit of single charges: those that arrive while earlier ones are being decided go
 * together through `chargeMany` (one statement, one commit; each decided by `quota_charge` exactly as
 * alone, a user at most in one such statement at a time). A client that sends one charge per call
 * then costs what api-service's own batches cost. A failed statement made none of its charges, so
 * each is then decided alone, and only a bad one fails.
 */
export function chargeGroup(db: SqlPort, options: { clock: () => Date; reservationTtlSeconds: number }, batching: KeyedBatcherOptions): KeyedBatcher<ChargeRequest, ChargeResult> {
  const chargeOptions = () => ({ now: options.clock(), reservationTtlSeconds: options.reservationTtlSeconds });
  return new KeyedBatcher<ChargeRequest, ChargeResult>(
    {
      key: (request) => request.userId,
      sendBatch: (requests) => chargeMany(db, requests, chargeOptions()).then((results) => results.map((result) => (result instanceof AppError ? { error: result } : { value: result }))),
      sendOne: (request) => charge(db, request, chargeOptions()),
      retryAlone: () => true,
    },
    batching,
  );
}

/**
 * Rights on these routes (DESIGN.md §9, SECURITY.md): api-service alone charges, releases and reads
 * a user's status. Settlement is ledger-consumer's, in the same statement as the ledger entry, so
 * there is no settle route. The worker's credential is known here only to be refused with 403: it
 * must never spend quota.
 */
export const API = allow('api-service');

/** A refused charge counted and logged (one line per breach), on every route that charges. */
export function recordRefusal(deps: Pick<QuotaRoutesDeps, 'charges' | 'logger'>, request: ChargeRequest, refused: ChargeRefused): void {
  deps.charges.inc({ outcome: 'refused', code: refused.code });
  deps.logger.info({ userId: request.userId, plan: refused.status.plan, code: refused.code, retryAfterSeconds: refused.retryAfterSeconds, itemId: request.itemId }, 'quota exceeded');
}

/**
 * The charge (DESIGN.md §3), the hottest internal route: served before Express (directJsonRoutes in
 * app.ts). One user's charges are admitted a few at a time; a refusal is a 429 with Retry-After.
 */
export function chargeRoute(deps: QuotaRoutesDeps): JsonRoute {
  return postJson('/internal/charges', API, ChargeRequest, async (body) => {
    const end = deps.chargeDuration.startTimer();
    let outcome = 'error';
    try {
      const result = await deps.admission.run(body.userId, () => deps.group.run(body));
      if (!result.ok) {
        outcome = 'refused';
        recordRefusal(deps, body, result);
        throw toQuotaExceededError(result);
      }
      outcome = result.replayed ? 'replayed' : 'accepted';
      deps.charges.inc({ outcome, code: 'NONE' });
      const response: ChargeResponse = { reservation: result.reservation, status: result.status, replayed: result.replayed };
      return { status: result.replayed ? 200 : 201, json: response };
    } catch (err) {
      if (outcome === 'error') deps.charges.inc({ outcome, code: (err as { code?: string }).code ?? 'INTERNAL' });
      throw err;
    } finally {
      end({ outcome });
    }
  });
}

/** The rest of the internal quota API (DESIGN.md §3), on Express; not exposed to the public. */
export function quotaRoutes(deps: Pick<QuotaRoutesDeps, 'db' | 'logger' | 'clock'>): Router {
  const router = Router();

  router.post('/internal/reservations/:id/release', API, async (req, res) => {
    const body = parseOr400(ReleaseRequest, req.body ?? {});
    const change = await release(deps.db, req.params.id, deps.clock());
    if (change.changed) deps.logger.info({ reservationId: req.params.id, reason: body.reason }, 'reservation released');
    const response: ReservationResponse = change;
    res.json(response);
  });

  router.get('/internal/users/:userId/quota', API, async (req, res) => {
    res.json(await quotaStatus(deps.db, req.params.userId, deps.clock()));
  });

  return router;
}
