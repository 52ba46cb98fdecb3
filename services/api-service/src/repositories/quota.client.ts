import { AppError, ChargeResponse, QuotaStatus, ReservationResponse, type ChargeRequest } from '@qv/contracts';
import { InternalClient, UnreachableError } from '@qv/http';

/**
 * api-service's view of quota-service. Fail closed: if quota-service does not answer in time the
 * request is refused with 503 QUOTA_SERVICE_UNAVAILABLE — no AI spend without a charge.
 */
export class QuotaClient {
  private readonly http: InternalClient;

  /** `credential`: SERVICE_TOKEN_API; a refused one fails closed like an outage (CredentialRefusedError is an UnreachableError). */
  constructor(baseUrl: string, timeoutMs: number, credential?: string) {
    this.http = new InternalClient({ service: 'quota-service', baseUrl, timeoutMs, credential });
  }

  charge(request: ChargeRequest): Promise<ChargeResponse> {
    return this.failClosed(() => this.http.call('POST', '/internal/charges', ChargeResponse, request));
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
