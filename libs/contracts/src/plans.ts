import { z } from 'zod';
import { bigintJson, int32, safeString } from './bounds';

/** The limit names used by the API and the database (DESIGN.md §2). null = unlimited / no cache. */
export const LIMIT_NAMES = [
  'enrichmentsPerDay',
  'concurrentJobs',
  'callsPerHour',
  'tokensPerDay',
  'tokensPerMonth',
  'sessionTtlSeconds',
  'contentTtlSeconds',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

// Each bounded by the column that stores it: `integer` for counts and TTLs, `bigint` for tokens.
const countLimit = int32().nullable();
const tokenLimit = bigintJson().nullable();

export const PlanLimits = z.object({
  enrichmentsPerDay: countLimit,
  concurrentJobs: countLimit,
  callsPerHour: countLimit,
  tokensPerDay: tokenLimit,
  tokensPerMonth: tokenLimit,
  sessionTtlSeconds: countLimit,
  contentTtlSeconds: countLimit,
});
export type PlanLimits = z.infer<typeof PlanLimits>;

/** Overrides replace any subset of the limits; an explicit null makes that limit unlimited. */
export const LimitOverrides = PlanLimits.partial().strict();
export type LimitOverrides = z.infer<typeof LimitOverrides>;

export const PlanId = z.string().regex(/^[a-z0-9_]{1,64}$/, 'plan ids are lower-case letters, digits and _');

export const Plan = PlanLimits.extend({ id: PlanId, name: safeString().min(1).max(100) });
export type Plan = z.infer<typeof Plan>;

export const PlanUpdate = PlanLimits.partial().extend({ name: safeString().min(1).max(100).optional() }).strict();
export type PlanUpdate = z.infer<typeof PlanUpdate>;

const MIN = 60;
/** The seeded plans (DESIGN.md §2). */
export const DEFAULT_PLANS: Plan[] = [
  { id: 'free', name: 'Free', enrichmentsPerDay: 50, concurrentJobs: 3, callsPerHour: 100, tokensPerDay: 10_000, tokensPerMonth: 100_000, sessionTtlSeconds: null, contentTtlSeconds: null },
  { id: 'payg', name: 'Pay as you go', enrichmentsPerDay: 500, concurrentJobs: 5, callsPerHour: 500, tokensPerDay: 50_000, tokensPerMonth: 500_000, sessionTtlSeconds: null, contentTtlSeconds: null },
  { id: 'pro_monthly', name: 'Pro (monthly)', enrichmentsPerDay: 5_000, concurrentJobs: 10, callsPerHour: 5_000, tokensPerDay: 1_000_000, tokensPerMonth: 30_000_000, sessionTtlSeconds: 30 * MIN, contentTtlSeconds: 60 * MIN },
  { id: 'pro_annual', name: 'Pro (annual)', enrichmentsPerDay: 10_000, concurrentJobs: 20, callsPerHour: 10_000, tokensPerDay: 2_000_000, tokensPerMonth: 60_000_000, sessionTtlSeconds: 60 * MIN, contentTtlSeconds: 120 * MIN },
  { id: 'enterprise', name: 'Enterprise', enrichmentsPerDay: null, concurrentJobs: 50, callsPerHour: null, tokensPerDay: null, tokensPerMonth: null, sessionTtlSeconds: 120 * MIN, contentTtlSeconds: 240 * MIN },
];
