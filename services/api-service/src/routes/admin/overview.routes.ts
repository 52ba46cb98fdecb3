import { AppError, Overview, QUEUE_STATES } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';
import { withTimeout } from '@qv/http';
import { estimateOverruns } from '@qv/ledger';
import type { Registry } from '@qv/telemetry';
import type { Queue } from 'bullmq';
import { Router } from 'express';
import { admin, authed, edge, error, json, named, on, type RouteDoc } from '../../openapi/route-doc';

interface CounterValue {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

/** Answers to POST /v1/items by status, from the request-duration histogram's `_count` series. */
async function createRequestsByStatus(metrics: Registry): Promise<Record<string, number>> {
  const histogram = metrics.getSingleMetric('http_request_duration_seconds');
  if (!histogram) return {};
  const { values } = (await histogram.get()) as { values: CounterValue[] };
  const byStatus: Record<string, number> = {};
  for (const { labels, value, metricName } of values) {
    if (metricName !== 'http_request_duration_seconds_count' || labels.method !== 'POST' || labels.route !== '/v1/items') continue;
    const status = String(labels.status);
    byStatus[status] = (byStatus[status] ?? 0) + value;
  }
  return byStatus;
}

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const overviewRouteDocs = {
  getOverview: {
    method: 'get',
    path: '/admin/overview',
    operationId: 'getOverview',
    tags: ['admin'],
    summary: 'Queue depths, dead letters, today’s settlements above their estimate, and the answers to POST /v1/items by status on this replica',
    description:
      'Queue depths are read from Redis (the same from every replica). `createRequests` counts this replica’s answers since it started; a rate is the difference between two readings. Prometheus has the sum over replicas.',
    security: authed,
    responses: { 200: { description: 'The overview.', content: json(named('Overview', Overview)) }, ...edge, ...admin, 503: error('SERVICE_UNAVAILABLE: Redis did not answer for the queue depths.') },
  },
} satisfies Record<string, RouteDoc>;

/**
 * Queue depths (read from Redis, so the same from every replica) and this replica's answers to
 * POST /v1/items since it started; a rate of refusals is the difference between two readings (the
 * console polls). Across replicas, Prometheus has the sum (quota:refusal_ratio:rate5m).
 */
export function adminOverviewRoutes(deps: {
  /** Where today's settlements above their estimate are read. */
  db: SqlPort;
  queues: Array<Pick<Queue, 'name' | 'getJobCounts'>>;
  /** Counted among the queues, and its waiting jobs as `deadLetters`. */
  deadLetterQueue: Pick<Queue, 'name' | 'getJobCounts'>;
  metrics: Registry;
  startedAt?: Date;
}): Router {
  const router = Router();
  const since = (deps.startedAt ?? new Date()).toISOString();
  on(router, overviewRouteDocs.getOverview, async (_req, res) => {
    const queues = await withTimeout(
      Promise.all([...deps.queues, deps.deadLetterQueue].map(async (queue) => [queue.name, await queue.getJobCounts(...QUEUE_STATES)] as const)),
      2000,
    ).catch((cause: unknown) => {
      throw new AppError('SERVICE_UNAVAILABLE', 'Redis did not answer for the queue depths', { retryAfterSeconds: 1, cause });
    });
    const byStatus = await createRequestsByStatus(deps.metrics);
    const dead = queues[queues.length - 1][1];
    const today = new Date().toISOString().slice(0, 10);
    const [overrun] = await estimateOverruns(deps.db, today);
    const body: Overview = {
      queues: Object.fromEntries(queues.map(([name, counts]) => [name, Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0]))])) as Overview['queues'],
      deadLetters: (dead.wait ?? 0) + (dead.prioritized ?? 0) + (dead.delayed ?? 0),
      aboveEstimate: { day: today, reservations: overrun?.reservations ?? 0, tokens: overrun?.tokens ?? 0 },
      createRequests: {
        since,
        byStatus,
        total: Object.values(byStatus).reduce((a, b) => a + b, 0),
        refused: byStatus['429'] ?? 0,
      },
    };
    res.json(body);
  });
  return router;
}
