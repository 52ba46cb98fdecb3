import { DlqFilter, NotFoundError, ReplayAllBody, ReplayBody } from '@qv/contracts';
import { parseOr400 } from '@qv/http';
import { Router } from 'express';
import { replayDeadLetter, type ReplayDeps } from '../../use-cases/replay-dead-letter';

export function adminDlqRoutes(deps: ReplayDeps): Router {
  const router = Router();

  router.get('/admin/dlq', async (req, res) => {
    const filter = parseOr400(DlqFilter, req.query, 'query');
    res.json({ jobs: await deps.deadLetters.list(filter) });
  });

  router.get('/admin/dlq/:jobId', async (req, res) => {
    const found = await deps.deadLetters.get(req.params.jobId);
    if (!found) throw new NotFoundError('Dead-letter job');
    res.json({ job: found.entry });
  });

  router.post('/admin/dlq/replay', async (req, res) => {
    const body = parseOr400(ReplayAllBody, req.body ?? {});
    const { chargeUser = false, ...filter } = body;
    const replayed = [];
    const failed = [];
    for (const entry of await deps.deadLetters.list(filter)) {
      try {
        replayed.push(await replayDeadLetter(deps, entry.jobId, chargeUser));
      } catch (err) {
        failed.push({ jobId: entry.jobId, error: (err as Error).message });
      }
    }
    res.status(202).json({ replayed, failed });
  });

  router.post('/admin/dlq/:jobId/replay', async (req, res) => {
    const body = parseOr400(ReplayBody, req.body ?? {});
    res.status(202).json(await replayDeadLetter(deps, req.params.jobId, body.chargeUser ?? false));
  });

  router.delete('/admin/dlq/:jobId', async (req, res) => {
    if (!(await deps.deadLetters.discard(req.params.jobId))) throw new NotFoundError('Dead-letter job');
    res.status(204).end();
  });

  return router;
}
