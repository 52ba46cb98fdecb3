import { NotFoundError, type QuotaStatus } from '@qv/contracts';
import type { SqlPort } from '@qv/db';
import { withSpan } from '@qv/telemetry';
import { buildQuotaStatus } from '../domain/usage';
import { readLimitsAndUsage } from '../repositories/quota.repository';

/** Every quota of the user with its level (DESIGN.md §3). Throws NotFoundError for an unknown user. */
export function quotaStatus(db: SqlPort, userId: string, now: Date): Promise<QuotaStatus> {
  return withSpan(
    'Quota.status',
    async () => {
      const user = await readLimitsAndUsage(db, userId, now);
      if (!user) throw new NotFoundError('User');
      return buildQuotaStatus(user.planId, user.limits, user.usage, now);
    },
    { 'quota.user_id': userId },
  );
}
