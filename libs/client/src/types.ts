import type {
  CachePurgeBody,
  CacheStats,
  CacheTier,
  CreateItemBody,
  CreateUserBody,
  DlqEntry,
  DlqFilter,
  Item,
  PatchUserBody,
  Plan,
  PlanUpdate,
  QuotaStatus,
  ReconciliationRow,
  ReplayAllBody,
  ReplayBody,
  User,
} from '@qv/contracts';
import type { z } from 'zod';

// Requests: what a caller may send (z.input: defaults still optional). Answers: what the API
// returns (z.infer). Both straight from libs/contracts, the schemas the routes parse with.
export type CreateItemInput = z.input<typeof CreateItemBody>;
export type CreateUserInput = z.input<typeof CreateUserBody>;
export type UpdateUserInput = z.input<typeof PatchUserBody>;
export type UpdatePlanInput = z.input<typeof PlanUpdate>;
export type DeadLetterFilter = z.input<typeof DlqFilter>;
export type ReplayInput = z.input<typeof ReplayBody>;
export type ReplayAllInput = z.input<typeof ReplayAllBody>;
export type CachePurgeInput = z.input<typeof CachePurgeBody>;
export type { CacheStats, DlqEntry, Item, Plan, QuotaStatus, ReconciliationRow, User };

export interface ListItemsParams {
  cursor?: string;
  limit?: number;
}
export interface ItemsPage {
  items: Item[];
  nextCursor: string | null;
}

// The bodies below are built inline by the routes and documented in the OpenAPI document
// (services/api-service/src/openapi/openapi.ts: UsageEntry, UsageTotals, ReplayResult, ...).
export interface UsageEntry {
  id: string;
  eventId: string;
  itemId: string;
  kind: string;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  cacheTier: CacheTier | null;
  cacheHit: boolean;
  tokensSaved: number;
  costSavedUsd: number;
  /** False for ops replays not charged to the user. */
  charged: boolean;
  createdAt: string;
}
export interface UsageTotals {
  entries: number;
  tokens: number;
  costUsd: number;
  tokensSaved: number;
}
export interface UsagePage {
  entries: UsageEntry[];
  nextCursor: string | null;
  totals: { today: UsageTotals; month: UsageTotals };
}
export interface ApiKeyInfo {
  id: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}
export interface ReplayResult {
  jobId: string;
  newJobId: string;
  charged: boolean;
}
export interface UsageReportRow {
  plan: string;
  model: string | null;
  day: string;
  calls: number;
  tokens: number;
  costUsd: number;
  cacheHits: number;
  tokensSaved: number;
  costSavedUsd: number;
}

/** GET /admin/overview (services/api-service/src/routes/admin/overview.routes.ts). */
export type QueueState = 'wait' | 'prioritized' | 'active' | 'delayed' | 'failed' | 'completed';
export interface Overview {
  /** Jobs per queue and state, read from Redis. */
  queues: Record<string, Record<QueueState, number>>;
  /** This replica's answers to POST /v1/items since `since`; two readings give a rate. */
  createRequests: { since: string; byStatus: Record<string, number>; total: number; refused: number };
}
