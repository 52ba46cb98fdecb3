import type {
  ApiKeyInfo,
  CachePurgeBody,
  CacheStats,
  CreateItemBody,
  CreateUserBody,
  DlqEntry,
  DlqFilter,
  Item,
  ItemsPage,
  Overview,
  PatchUserBody,
  Plan,
  PlanUpdate,
  QueueState,
  QuotaStatus,
  ReconciliationRow,
  ReplayAllBody,
  ReplayBody,
  ReplayResult,
  UsageEntry,
  UsagePage,
  UsageReportRow,
  UsageTotals,
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
export type { ApiKeyInfo, CacheStats, DlqEntry, Item, ItemsPage, Overview, Plan, QueueState, QuotaStatus, ReconciliationRow, ReplayResult, UsageEntry, UsagePage, UsageReportRow, UsageTotals, User };

export interface ListItemsParams {
  cursor?: string;
  limit?: number;
}
