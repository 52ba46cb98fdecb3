/** What the admin API answers (DESIGN.md §4); its requests and records are in admin.ts. */
import { z } from 'zod';
import { DlqEntry, ReconciliationRow, User } from './admin';
import { Plan } from './plans';

/** `POST /admin/users` (201): the user and its API key, shown this once. */
export const CreateUserResponse = z.object({ user: User, apiKey: z.string() });
export type CreateUserResponse = z.infer<typeof CreateUserResponse>;
export const UserResponse = z.object({ user: User });
export type UserResponse = z.infer<typeof UserResponse>;
/** `GET /admin/users?email=`: one user or none. */
export const UsersResponse = z.object({ users: z.array(User) });
export type UsersResponse = z.infer<typeof UsersResponse>;

/** An API key as listed: its prefix only, the key itself is stored hashed. */
export const ApiKeyInfo = z.object({ id: z.string(), prefix: z.string(), createdAt: z.string(), revokedAt: z.string().nullable() });
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;
/** `GET /admin/users/:id/keys`: oldest first. */
export const ApiKeysResponse = z.object({ keys: z.array(ApiKeyInfo) });
export type ApiKeysResponse = z.infer<typeof ApiKeysResponse>;
/** `POST /admin/users/:id/keys` (201): the key, shown this once. */
export const CreateApiKeyResponse = z.object({ key: ApiKeyInfo, apiKey: z.string() });
export type CreateApiKeyResponse = z.infer<typeof CreateApiKeyResponse>;

export const PlansResponse = z.object({ plans: z.array(Plan) });
export type PlansResponse = z.infer<typeof PlansResponse>;
export const PlanResponse = z.object({ plan: Plan });
export type PlanResponse = z.infer<typeof PlanResponse>;

/** `GET /admin/dlq`: the matching jobs (at most 1,000); `truncated` when more match. */
export const DlqJobsResponse = z.object({ jobs: z.array(DlqEntry), truncated: z.boolean() });
export type DlqJobsResponse = z.infer<typeof DlqJobsResponse>;
export const DlqJobResponse = z.object({ job: DlqEntry });
export type DlqJobResponse = z.infer<typeof DlqJobResponse>;
/** A dead letter re-enqueued under a new job id (202). */
export const ReplayResult = z.object({ jobId: z.string(), newJobId: z.string(), charged: z.boolean() });
export type ReplayResult = z.infer<typeof ReplayResult>;
/** `POST /admin/dlq/replay` (202): what was re-enqueued, and what could not be (with the reason). */
export const ReplayAllResponse = z.object({
  replayed: z.array(ReplayResult),
  failed: z.array(z.object({ jobId: z.string(), error: z.string() })),
  /** Other jobs match beyond this call's 1,000: call again. */
  more: z.boolean(),
});
export type ReplayAllResponse = z.infer<typeof ReplayAllResponse>;

/** `GET /admin/reconciliation`: at most `limit` rows; the drift summed over every matching row; `truncated` when more match. */
export const ReconciliationResponse = z.object({ rows: z.array(ReconciliationRow), totalDrift: z.number().int(), truncated: z.boolean() });
export type ReconciliationResponse = z.infer<typeof ReconciliationResponse>;

export const UsageReportRow = z.object({
  plan: z.string(),
  model: z.string().nullable(),
  day: z.string(),
  calls: z.number().int(),
  tokens: z.number().int(),
  costUsd: z.number(),
  cacheHits: z.number().int(),
  tokensSaved: z.number().int(),
  costSavedUsd: z.number(),
});
export type UsageReportRow = z.infer<typeof UsageReportRow>;
/** `GET /admin/reports/usage`: per plan, model and day. */
export const UsageReportResponse = z.object({ rows: z.array(UsageReportRow) });
export type UsageReportResponse = z.infer<typeof UsageReportResponse>;

/** The states counted per queue (as the worker's bullmq_job_count gauge counts them). */
export const QUEUE_STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** `GET /admin/overview`. */
export const Overview = z.object({
  /** Jobs per queue and state, read from Redis. */
  queues: z.record(z.string(), z.record(z.enum(QUEUE_STATES), z.number().int())),
  /** Dead letters waiting for an operator: the dead-letter queue's waiting, prioritized and delayed jobs. */
  deadLetters: z.number().int(),
  /** Today's (UTC) reservations settled above their estimate, and the tokens past it: 0 while every estimate bounds what the provider billed. */
  aboveEstimate: z.object({ day: z.string(), reservations: z.number().int(), tokens: z.number().int() }),
  createRequests: z.object({
    /** When this replica started counting (its start). */
    since: z.string(),
    /** Answers to POST /v1/items by this replica, by HTTP status. */
    byStatus: z.record(z.string(), z.number().int()),
    total: z.number().int(),
    /** The 429s among them: quota refusals and per-user request limits. */
    refused: z.number().int(),
  }),
});
export type Overview = z.infer<typeof Overview>;
