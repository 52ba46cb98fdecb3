import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpStatusOf, type AppError } from '@qv/contracts';
import { lineFull, requestDuration, requestIdFrom, writeAnswer, type KeyedGate } from '@qv/http';
import type { Registry } from 'prom-client';
import { quotaHeaders } from '../domain/quota-headers';
import type { LatestQuotaStatus } from '../domain/latest-quota-status';
import type { RefusalMemo } from '../domain/refusal-memo';
import type { PrincipalResolver } from '../repositories/auth.repository';

export interface EarlyRefusalDeps {
  principals: Pick<PrincipalResolver, 'cached'>;
  /** The accept path's admission (the same instance as items.routes'). */
  admission: Pick<KeyedGate, 'refusesAtOnce'>;
  refusals: Pick<RefusalMemo, 'recall'>;
  /** Each user's latest quota status on this replica: the headers of a line-full refusal. */
  latest: Pick<LatestQuotaStatus, 'recall'>;
  metrics: Registry;
}

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * `POST /v1/items` refused before Express sees it, when the answer is already known: the user's line
 * on this replica is full (429 USER_REQUEST_RATE_EXCEEDED, as the gate would answer) or the user met
 * a count refusal a moment ago (RefusalMemo). One user's burst of 10,000 is then mostly answered
 * here, for a fraction of what routing, body parsing and authentication cost, so the other users'
 * requests on the same event loop do not wait behind it.
 *
 * Only what the full path would answer the same: the key must be one this replica holds as valid
 * (otherwise authentication decides), no `Origin` (CORS headers are the full path's), and for a
 * remembered refusal no `Idempotency-Key` (a retry of an accepted request is answered its 202).
 * The answer has the full path's headers and body; its body is left unread (Node discards it and
 * keeps the connection). Answers `true` when it answered.
 */
export function earlyRefusals(deps: EarlyRefusalDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const duration = requestDuration(deps.metrics);
  const busy = lineFull();
  const busyBody = JSON.stringify(busy.toBody());

  return (req, res) => {
    if (req.method !== 'POST' || (req.url !== '/v1/items' && !req.url?.startsWith('/v1/items?')) || req.headers.origin !== undefined) return false;
    const match = BEARER.exec(req.headers.authorization ?? '');
    const principal = match ? deps.principals.cached(match[1]) : undefined;
    if (!principal) return false;

    let refusal: AppError | undefined;
    let body: string;
    if (deps.admission.refusesAtOnce(principal.userId)) {
      refusal = busy;
      body = busyBody;
    } else if (req.headers['idempotency-key'] === undefined && (refusal = deps.refusals.recall(principal.userId))) {
      body = JSON.stringify(refusal.toBody());
    } else return false;

    const end = duration.startTimer();
    const status = (refusal.details as Parameters<typeof quotaHeaders>[0] | undefined) ?? deps.latest.recall(principal.userId);
    const headers = {
      'X-Content-Type-Options': 'nosniff',
      'X-Request-Id': requestIdFrom(req.headers['x-request-id']),
      'Cache-Control': 'no-store',
      ...(status?.quotas ? quotaHeaders(status) : {}),
      'Retry-After': String(refusal.retryAfterSeconds ?? 1),
    };
    writeAnswer(res, { status: httpStatusOf(refusal.code), raw: body }, headers);
    end({ method: 'POST', route: '/v1/items', status: String(res.statusCode) });
    return true;
  };
}
