import { z } from 'zod';
import { idString, int32, safeString } from './bounds';
import { ErrorBody } from './errors';

/** ok < 75 % ≤ warning < 90 % ≤ critical < 100 % ≤ exceeded (DESIGN.md §3). */
export const QuotaLevel = z.enum(['ok', 'warning', 'critical', 'exceeded']);
export type QuotaLevel = z.infer<typeof QuotaLevel>;

export const ChargedLimitName = z.enum(['concurrentJobs', 'callsPerHour', 'enrichmentsPerDay', 'tokensPerDay', 'tokensPerMonth']);
export type ChargedLimitName = z.infer<typeof ChargedLimitName>;

export const QuotaUsage = z.object({
  used: z.number().int(),
  limit: z.number().int().nullable(),
  remaining: z.number().int().nullable(),
  /** ISO time at which `used` next falls (window end, or the oldest call leaving the rolling hour). */
  resetAt: z.string().nullable(),
  level: QuotaLevel,
});
export type QuotaUsage = z.infer<typeof QuotaUsage>;

export const QuotaStatus = z.object({
  plan: z.string(),
  level: QuotaLevel,
  quotas: z.object({
    enrichmentsPerDay: QuotaUsage,
    concurrentJobs: QuotaUsage,
    callsPerHour: QuotaUsage,
    tokensPerDay: QuotaUsage,
    tokensPerMonth: QuotaUsage,
  }),
});
export type QuotaStatus = z.infer<typeof QuotaStatus>;

export const ReservationStatus = z.enum(['RESERVED', 'SETTLED', 'RELEASED', 'EXPIRED']);
export type ReservationStatus = z.infer<typeof ReservationStatus>;

export const Reservation = z.object({
  id: z.string(),
  userId: z.string(),
  itemId: z.string(),
  status: ReservationStatus,
  estimatedTokens: z.number().int(),
  actualTokens: z.number().int().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
});
export type Reservation = z.infer<typeof Reservation>;

/** api-service → quota-service. The idempotency key makes a retried charge return the first answer. */
export const ChargeRequest = z.object({
  v: z.literal(1),
  userId: idString(),
  itemId: idString(),
  idempotencyKey: safeString().min(1).max(300),
  estimatedTokens: int32(),
});
export type ChargeRequest = z.infer<typeof ChargeRequest>;

export const ChargeResponse = z.object({ reservation: Reservation, status: QuotaStatus, replayed: z.boolean() });
export type ChargeResponse = z.infer<typeof ChargeResponse>;

/** Most charges one batch may carry. */
export const MAX_CHARGES_PER_BATCH = 64;

/** Several users' charges decided in one statement and one commit (POST /internal/charges/batch). */
export const ChargeBatchRequest = z.object({ v: z.literal(1), charges: z.array(ChargeRequest).min(1).max(MAX_CHARGES_PER_BATCH) });
export type ChargeBatchRequest = z.infer<typeof ChargeBatchRequest>;

/** Per charge, in the request's order: the charge, or the error body (and HTTP status) it alone would have been answered. */
export const ChargeBatchResult = z.union([z.object({ charge: ChargeResponse }), z.object({ status: z.number().int(), error: ErrorBody.shape.error })]);
export type ChargeBatchResult = z.infer<typeof ChargeBatchResult>;
export const ChargeBatchResponse = z.object({ results: z.array(ChargeBatchResult) });
export type ChargeBatchResponse = z.infer<typeof ChargeBatchResponse>;


export const ReleaseRequest = z.object({ v: z.literal(1), reason: safeString().max(500).optional() });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

export const ReservationResponse = z.object({ reservation: Reservation, changed: z.boolean() });
export type ReservationResponse = z.infer<typeof ReservationResponse>;
