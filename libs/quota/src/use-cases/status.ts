import { NotFoundError, type PlanLimits, type QuotaStatus } from '@qv/contracts';
import type { Db } from '@qv/db';
import { withSpan } from '@qv/telemetry';
import { chargedLimits } from '../domain/limits';
import { buildQuotaStatus } from '../domain/usage';
import { dayWindow, monthWindow, rollingHourStart } from '../domain/windows';
import { readUsage, readUserLimits } from '../repositories/quota.repository';

/** The user's plan id and effective limits (plan + overrides); null for an unknown user. */
export async function loadLimits(db: Db, userId: string): Promise<{ planId: string; limits: PlanLimits } | null> {
  return readUserLimits(db, userId);
}

/** Every quota of the user with its level (DESIGN.md §3). Throws NotFoundError for an unknown user. */
export function quotaStatus(db: Db, userId: string, now: Date): Promise<QuotaStatus> {
  return withSpan(
    'Quota.status',
    async () => {
      const user = await readUserLimits(db, userId);
      if (!user) throw new NotFoundError('User');
      const usage = await readUsage(db, { userId, hourStart: rollingHourStart(now), day: dayWindow(now).key, month: monthWindow(now).key });
      return buildQuotaStatus(user.planId, chargedLimits(user.limits), usage, now);
    },
    { 'quota.user_id': userId },
  );
}
