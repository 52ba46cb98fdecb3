import { Router } from 'express';
import type { FaultInjector } from '../domain/faults';
import type { CallLog } from '../repositories/call-log';

/** Introspection for tests: how many calls arrived, and a reset of counters and fault state. */
export function simRoutes(deps: { calls: CallLog; faults: FaultInjector }): Router {
  const router = Router();
  router.get('/sim/calls', (req, res) => {
    const contains = typeof req.query.contains === 'string' ? req.query.contains : undefined;
    res.json({ count: deps.calls.count(contains) });
  });
  router.post('/sim/reset', (_req, res) => {
    deps.calls.reset();
    deps.faults.reset();
    res.status(204).end();
  });
  return router;
}
