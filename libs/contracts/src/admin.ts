import { z } from 'zod';
import { idString, safeString } from './bounds';
import { LIMIT_NAMES, LimitOverrides, PlanId } from './plans';

/**
 * RFC 5321 caps an address at 254 characters. Stored lower-cased, so `A@X.COM` and `a@x.com` are
 * one user (the unique index is on `lower(email)` as well, for writers other than this API).
 */
export const Email = z.email().max(254).transform((e) => e.toLowerCase());

export const CreateUserBody = z
  .object({
    email: Email.optional(),
    plan: PlanId,
    overrides: LimitOverrides.optional(),
    role: z.enum(['user', 'admin']).optional(),
  })
  .strict();
export type CreateUserBody = z.infer<typeof CreateUserBody>;

export const PatchUserBody = z
  .object({
    email: Email.optional(),
    plan: PlanId.optional(),
    /** Replaces the user's overrides as a whole; `{}` removes them. */
    overrides: LimitOverrides.optional(),
    /** Sets these overrides and keeps the user's others, in one statement: two operators changing different limits at once both land. */
    mergeOverrides: LimitOverrides.optional(),
    /** Removes these overrides (the plan's limit applies again) and keeps the others, in the same statement as `mergeOverrides`. */
    removeOverrides: z.array(z.enum(LIMIT_NAMES)).max(LIMIT_NAMES.length).optional(),
  })
  .strict()
  .refine((body) => body.overrides === undefined || (body.mergeOverrides === undefined && body.removeOverrides === undefined), {
    message: 'give overrides (replace them all) or mergeOverrides / removeOverrides (change some), not both',
    path: ['mergeOverrides'],
  })
  .refine((body) => !body.removeOverrides?.some((name) => body.mergeOverrides?.[name] !== undefined), { message: 'a limit is set or removed, not both', path: ['removeOverrides'] });
export type PatchUserBody = z.infer<typeof PatchUserBody>;

export const User = z.object({
  id: z.string(),
  email: z.string().nullable(),
  plan: z.string(),
  role: z.enum(['user', 'admin']),
  overrides: LimitOverrides,
  createdAt: z.string(),
});
export type User = z.infer<typeof User>;

export const DlqFilter = z.object({
  userId: idString().optional(),
  /** ISO times bounding failedAt. */
  since: z.iso.datetime().optional(),
  until: z.iso.datetime().optional(),
  /** A substring of the failure reason. */
  error: safeString().max(200).optional(),
});
export type DlqFilter = z.infer<typeof DlqFilter>;

export const ReplayBody = z.object({ chargeUser: z.boolean().optional() }).strict();
export const ReplayAllBody = DlqFilter.extend({ chargeUser: z.boolean().optional() }).strict();

export const DlqEntry = z.object({
  jobId: z.string(),
  itemId: z.string(),
  userId: z.string(),
  failedReason: z.string(),
  attemptsMade: z.number().int(),
  failedAt: z.string(),
  errors: z.array(z.string()).optional(),
});
export type DlqEntry = z.infer<typeof DlqEntry>;

export const ReconciliationRow = z.object({
  userId: z.string(),
  day: z.string(),
  reservedTokens: z.number().int(),
  settledTokens: z.number().int(),
  ledgerTokens: z.number().int(),
  counterTokens: z.number().int(),
  drift: z.number().int(),
});
export type ReconciliationRow = z.infer<typeof ReconciliationRow>;
