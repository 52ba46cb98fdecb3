import { AppError, ChargeBatchRequest, httpStatusOf, type ChargeBatchResult } from '@qv/contracts';
import { allow, postJson, type JsonRoute } from '@qv/http';
import { chargeMany, toQuotaExceededError } from '@qv/quota';
import type { QuotaRoutesDeps } from './quota.routes';

/** api-service alone charges (as on POST /internal/charges). */
const API = allow('api-service');

/**
 * Several charges in one statement and one commit (libs/quota chargeMany): api-service sends what
 * gathered while its earlier charges were on their way. Each is decided, counted and logged as
 * `POST /internal/charges` would, and answered in the request's order; the batch answers 200
 * whatever its charges' outcomes. A failure of the statement is the batch's error (none was made),
 * and the caller then charges them one by one. No per-user line here: a batch holds one connection
 * however many charges it carries (a user's one after another, in arrival order).
 */
export function chargeBatchRoute(deps: QuotaRoutesDeps): JsonRoute {
  return postJson('/internal/charges/batch', API, ChargeBatchRequest, async (body) => {
    const end = deps.chargeDuration.startTimer();
    let outcome = 'error';
    try {
      const decided = await chargeMany(deps.db, body.charges, { now: deps.clock(), reservationTtlSeconds: deps.reservationTtlSeconds });
      outcome = 'batch';
      const results: ChargeBatchResult[] = decided.map((result, i) => {
        if (result instanceof AppError) {
          deps.charges.inc({ outcome: 'error', code: result.code });
          return { status: httpStatusOf(result.code), error: result.toBody().error };
        }
        if (!result.ok) {
          deps.charges.inc({ outcome: 'refused', code: result.code });
          const request = body.charges[i];
          deps.logger.info({ userId: request.userId, plan: result.status.plan, code: result.code, retryAfterSeconds: result.retryAfterSeconds, itemId: request.itemId }, 'quota exceeded');
          return { status: 429, error: toQuotaExceededError(result).toBody().error };
        }
        deps.charges.inc({ outcome: result.replayed ? 'replayed' : 'accepted', code: 'NONE' });
        return { charge: { reservation: result.reservation, status: result.status, replayed: result.replayed } };
      });
      return { status: 200, json: { results } };
    } catch (err) {
      deps.charges.inc({ outcome: 'error', code: (err as { code?: string }).code ?? 'INTERNAL' });
      throw err;
    } finally {
      end({ outcome });
    }
  });
}
