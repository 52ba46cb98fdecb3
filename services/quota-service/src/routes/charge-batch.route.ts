import { AppError, ChargeBatchRequest, httpStatusOf, type ChargeBatchResult } from '@qv/contracts';
import { postJson, type JsonRoute } from '@qv/http';
import { chargeMany, toQuotaExceededError } from '@qv/quota';
import { API, recordRefusal, type QuotaRoutesDeps } from './quota.routes';

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
          recordRefusal(deps, body.charges[i], result);
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
