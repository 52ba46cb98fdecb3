import { DlqFilter, DlqJobResponse, DlqJobsResponse, NotFoundError, ReplayAllBody, ReplayAllResponse, ReplayBody, ReplayResult } from '@qv/contracts';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { replayDeadLetter, type ReplayDeps } from '../../use-cases/replay-dead-letter';
import { admin, authed, documented, edge, error, json, named, notFound, on, retryAfter, validation, type RouteDoc } from '../../openapi/route-doc';
import { z } from 'zod';

const jobId = z.object({ jobId: z.string() });

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const dlqRouteDocs = {
  listDeadLetters: {
    method: 'get',
    path: '/admin/dlq',
    operationId: 'listDeadLetters',
    tags: ['admin'],
    summary: 'Dead-lettered enrichment jobs',
    security: authed,
    request: { query: DlqFilter },
    responses: { 200: { description: 'The jobs matching the filter, newest first, at most 1,000; `truncated` when more match (narrow the filter).', content: json(documented(DlqJobsResponse)) }, ...validation, ...admin },
  },
  getDeadLetter: {
    method: 'get',
    path: '/admin/dlq/{jobId}',
    operationId: 'getDeadLetter',
    tags: ['admin'],
    summary: 'One dead-lettered job, with its error history',
    security: authed,
    request: { params: jobId },
    responses: { 200: { description: 'The job.', content: json(documented(DlqJobResponse)) }, ...edge, ...admin, ...notFound('dead-letter job') },
  },
  replayDeadLetter: {
    method: 'post',
    path: '/admin/dlq/{jobId}/replay',
    operationId: 'replayDeadLetter',
    tags: ['admin'],
    summary: 'Replay one dead-lettered job under a new job id',
    description: 'The user is not charged again unless `chargeUser` is true; the tokens reach the ledger either way, marked as charged or not.',
    security: authed,
    request: { params: jobId, body: { required: false, content: json(named('ReplayBody', ReplayBody)) } },
    responses: {
      202: { description: 'Re-enqueued.', content: json(ReplayResult) },
      ...validation,
      ...admin,
      ...notFound('dead-letter job'),
      429: error('With `chargeUser`, the fresh charge was refused by a quota; or AUTH_RATE_LIMITED (too many failed authentications from this client).', { headers: { 'Retry-After': retryAfter } }),
    },
  },
  replayDeadLetters: {
    method: 'post',
    path: '/admin/dlq/replay',
    operationId: 'replayDeadLetters',
    tags: ['admin'],
    summary: 'Replay every dead-lettered job matching a filter (user, time, error)',
    description: 'At most 1,000 jobs per call, newest first; `more` says that others match: call again until it is false.',
    security: authed,
    request: { body: { required: false, content: json(named('ReplayAllBody', ReplayAllBody)) } },
    responses: {
      202: {
        description: 'What was re-enqueued, and what could not be (with the reason).',
        content: json(ReplayAllResponse),
      },
      ...validation,
      ...admin,
    },
  },
  discardDeadLetter: {
    method: 'delete',
    path: '/admin/dlq/{jobId}',
    operationId: 'discardDeadLetter',
    tags: ['admin'],
    summary: 'Discard a dead-lettered job',
    security: authed,
    request: { params: jobId },
    responses: { 204: { description: 'Discarded.' }, ...edge, ...admin, ...notFound('dead-letter job') },
  },
} satisfies Record<string, RouteDoc>;

export function adminDlqRoutes(deps: ReplayDeps): Router {
  const router = Router();

  on(router, dlqRouteDocs.listDeadLetters, async (req, res) => {
    const filter = parseOr400(DlqFilter, req.query, 'query');
    const { entries, truncated } = await deps.deadLetters.list(filter);
    res.json({ jobs: entries, truncated });
  });

  on(router, dlqRouteDocs.getDeadLetter, async (req, res) => {
    const found = await deps.deadLetters.get(req.params.jobId);
    if (!found) throw new NotFoundError('Dead-letter job');
    res.json({ job: found.entry });
  });

  on(router, dlqRouteDocs.replayDeadLetters, async (req, res) => {
    const body = parseOr400(ReplayAllBody, req.body ?? {});
    const { chargeUser = false, ...filter } = body;
    const replayed = [];
    const failed = [];
    const { entries, truncated } = await deps.deadLetters.list(filter);
    for (const entry of entries) {
      try {
        replayed.push(await replayDeadLetter(deps, entry.jobId, chargeUser));
      } catch (err) {
        failed.push({ jobId: entry.jobId, error: (err as Error).message });
      }
    }
    res.status(202).json({ replayed, failed, more: truncated });
  });

  on(router, dlqRouteDocs.replayDeadLetter, async (req, res) => {
    const body = parseOr400(ReplayBody, req.body ?? {});
    res.status(202).json(await replayDeadLetter(deps, req.params.jobId, body.chargeUser ?? false));
  });

  on(router, dlqRouteDocs.discardDeadLetter, async (req, res) => {
    if (!(await deps.deadLetters.discard(req.params.jobId))) throw new NotFoundError('Dead-letter job');
    res.status(204).end();
  });

  return router;
}
