import type { QuotaStatus } from '@qv/contracts';

/**
 * The quota status of each user's latest charge this replica saw answered (accepted, or refused
 * with its status), for the answers that carry no status of their own: a `429
 * USER_REQUEST_RATE_EXCEEDED` refuses a request before any charge, yet DESIGN.md §4 puts the
 * `X-AI-Quota-*` headers on every 429 of `POST /v1/items`. Those headers then say what the user's
 * quotas were at that latest answer, which is as fresh as this replica knows them. Per replica and
 * bounded: past `maxUsers` the users answered longest ago are dropped; an operator's change of a
 * user's limits forgets the user (QuotaClient.forget).
 */
export class LatestQuotaStatus {
  private readonly latest = new Map<string, QuotaStatus>();

  constructor(private readonly maxUsers = 100_000) {}

  remember(userId: string, status: QuotaStatus): void {
    // Re-inserted, so that the map's order is the order of the users' latest answers.
    this.latest.delete(userId);
    this.latest.set(userId, status);
    if (this.latest.size > this.maxUsers) this.latest.delete(this.latest.keys().next().value!);
  }

  recall(userId: string): QuotaStatus | undefined {
    return this.latest.get(userId);
  }

  forget(userId: string): void {
    this.latest.delete(userId);
  }

  forgetAll(): void {
    this.latest.clear();
  }
}
