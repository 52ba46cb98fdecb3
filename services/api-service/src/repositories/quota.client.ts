import { AppError, ChargeBatchResponse, ChargeResponse, QuotaStatus, ReservationResponse, type ChargeBatchResult, type ChargeRequest } from '@qv/contracts';
import { CredentialRefusedError, InternalClient, KeyedBatcher, UnreachableError, type BatchAnswer, type KeyedBatcherOptions } from '@qv/http';
import { LatestQuotaStatus } from '../domain/latest-quota-status';
import { RefusalMemo } from '../domain/refusal-memo';

/** Every charge alone, as many at once as come (the default of a client built without options). */
const UNBATCHED: KeyedBatcherOptions = { maxBatch: 1, maxInFlight: Number.POSITIVE_INFINITY };

/** One charge's answer in `POST /internal/charges/batch`'s, as the single route would have answered it. */
const answerOf = (result: ChargeBatchResult): BatchAnswer<ChargeResponse> =>
  'charge' in result
    ? { value: result.charge }
    : { error: new AppError(result.error.code, result.error.message, { details: result.error.details, retryAfterSeconds: result.error.retryAfterSeconds }) };

/**
 * api-service's view of quota-service. Fail closed: if quota-service does not answer in time the
 * request is refused with 503 QUOTA_SERVICE_UNAVAILABLE — no AI spend without a charge.
 */
export class QuotaClient {
  private readonly http: InternalClient;
  private readonly batcher: KeyedBatcher<ChargeRequest, ChargeResponse>;
  /** Each user's status at their latest charge answered here (for the 429s that carry none). */
  readonly latest = new LatestQuotaStatus();

  /**
   * `credential`: SERVICE_TOKEN_API; a refused one fails closed like an outage (CredentialRefusedError is an UnreachableError).
   * `refusals`: count refusals kept for a moment (RefusalMemo), consulted by `chargeOwnKey`; absent, none are kept.
   * `batching`: charges that arrive together go as one batch (KeyedBatcher, by user: a user is in at
   *   most one batch at a time, so no batch waits on a lock this replica holds); absent, each goes alone.
   *   A batch quota-service answered with an error (its statement failed: nothing was charged) is
   *   charged again one by one; one it did not answer fails as an unanswered charge does.
   */
  constructor(baseUrl: string, timeoutMs: number, credential?: string, readonly refusals = new RefusalMemo(0), batching: KeyedBatcherOptions = UNBATCHED) {
    this.http = new InternalClient({ service: 'quota-service', baseUrl, timeoutMs, credential });
    this.batcher = new KeyedBatcher(
      {
        key: (charge) => charge.userId,
        sendBatch: (charges) => this.http.call('POST', '/internal/charges/batch', ChargeBatchResponse, { v: 1, charges }).then((answer) => answer.results.map(answerOf)),
        sendOne: (charge) => this.http.call('POST', '/internal/charges', ChargeResponse, charge),
        retryAlone: (err) => err instanceof AppError && !(err instanceof UnreachableError),
      },
      batching,
    );
  }

  async charge(request: ChargeRequest): Promise<ChargeResponse> {
    try {
      const charged = await this.failClosed(() => this.batcher.run(request));
      this.latest.remember(request.userId, charged.status);
      return charged;
    } catch (err) {
      const status = err instanceof AppError ? (err.details as QuotaStatus | undefined) : undefined;
      if (status?.quotas) this.latest.remember(request.userId, status);
      throw err;
    }
  }

  /**
   * A charge under an idempotency key no other request uses (an item's, from its fresh id). When
   * quota-service did not answer in time, or a replica went away mid-call, the charge may still
   * have committed, and would hold the user's slot and tokens until the orphan sweep while the
   * client got a 503: so it is asked once more under the same key, and a replay is then this
   * request's own charge. Still no answer, and it fails closed as `charge` does.
   * A fresh key is never a replay of an earlier charge, so a count refusal this user met a moment
   * ago (`refusals`) is answered without asking.
   */
  async chargeOwnKey(request: ChargeRequest): Promise<ChargeResponse> {
    this.throwKeptRefusal(request.userId);
    try {
      return await this.charge(request);
    } catch (err) {
      this.refusals.remember(request.userId, err);
      const unanswered = err instanceof AppError && err.code === 'QUOTA_SERVICE_UNAVAILABLE' && err.cause instanceof UnreachableError && !(err.cause instanceof CredentialRefusedError);
      if (!unanswered) throw err;
      return { ...(await this.charge(request)), replayed: false };
    }
  }

  /** Throws the count refusal this user met a moment ago, if one is kept (see `chargeOwnKey`). */
  throwKeptRefusal(userId: string): void {
    const kept = this.refusals.recall(userId);
    if (kept) throw kept;
  }

  /** Forgets what this replica keeps of the user's answers (refusals, latest status): their limits changed. */
  forget(userId: string): void {
    this.refusals.forget(userId);
    this.latest.forget(userId);
  }

  forgetAll(): void {
    this.refusals.forgetAll();
    this.latest.forgetAll();
  }

  /** Refunds a reservation this service took but will not use. */
  release(reservationId: string, reason: string): Promise<unknown> {
    return this.failClosed(() => this.http.call('POST', `/internal/reservations/${encodeURIComponent(reservationId)}/release`, ReservationResponse, { v: 1, reason }));
  }

  status(userId: string): Promise<QuotaStatus> {
    return this.failClosed(() => this.http.call('GET', `/internal/users/${encodeURIComponent(userId)}/quota`, QuotaStatus));
  }

  private async failClosed<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof UnreachableError || (err instanceof AppError && err.code === 'INTERNAL')) {
        throw new AppError('QUOTA_SERVICE_UNAVAILABLE', 'The quota service is unavailable; nothing was charged or stored', { retryAfterSeconds: 1, cause: err });
      }
      throw err;
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
