import { effectiveLimits, LIMIT_NAMES, type ChargedLimitName, type PlanLimits } from '@qv/contracts';
import { z } from 'zod';

/** The five limits a charge checks; null = unlimited. */
export type ChargedLimits = Pick<PlanLimits, ChargedLimitName>;

/** The order of DESIGN.md §3: the first failing check names the refusal. */
export const CHECK_ORDER: readonly ChargedLimitName[] = ['concurrentJobs', 'callsPerHour', 'enrichmentsPerDay', 'tokensPerDay', 'tokensPerMonth'];

// What quota_charge accepts in the stored JSON: any non-negative safe integer or null. Tighter
// bounds (a column's int4) are the API's, on write; a reader stricter than the SQL would refuse
// a charge the database itself accepts.
const storedLimit = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable();
const OverridesFromDb = z.object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, storedLimit.optional()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodOptional<typeof storedLimit>>);

/**
 * A plan row's limits with the user's overrides applied (`effectiveLimits`). The overrides JSON is
 * parsed, not trusted: a malformed value throws rather than silently lifting a limit (fail closed).
 * Keys the schema does not know are ignored.
 */
export function resolveLimits(plan: PlanLimits, overridesJson: unknown): PlanLimits {
  if (overridesJson === null || overridesJson === undefined) return effectiveLimits(plan, null);
  const parsed = OverridesFromDb.safeParse(overridesJson);
  if (!parsed.success) throw new Error(`user_quota_overrides.limits is malformed: ${parsed.error.message}`);
  return effectiveLimits(plan, parsed.data);
}

/** The charged subset of a plan's limits. */
export function chargedLimits(limits: PlanLimits): ChargedLimits {
  return {
    concurrentJobs: limits.concurrentJobs,
    callsPerHour: limits.callsPerHour,
    enrichmentsPerDay: limits.enrichmentsPerDay,
    tokensPerDay: limits.tokensPerDay,
    tokensPerMonth: limits.tokensPerMonth,
  };
}
