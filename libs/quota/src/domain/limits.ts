import type { ChargedLimitName, PlanLimits } from '@qv/contracts';

/** The five limits a charge checks; null = unlimited. Resolved by prisma/functions/020_quota_user_limits.sql. */
export type ChargedLimits = Pick<PlanLimits, ChargedLimitName>;
