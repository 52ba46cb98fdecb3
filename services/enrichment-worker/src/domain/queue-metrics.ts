import { Gauge, type Registry } from '@qv/telemetry';
import type { Queue } from 'bullmq';

/** The states counted per queue; `wait` + `prioritized` is what KEDA scales the worker on. */
const STATES = ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children'] as const;

/**
 * Queue depth and the age of the oldest waiting job, read from Redis at scrape time (so every
 * replica reports the same values: rules take `max by (queue)`). A scrape while Redis is down
 * leaves these series out and `dependency_up{dependency="redis"}` says why.
 */
export function registerQueueMetrics(registry: Registry, queues: Queue[], now: () => number = Date.now): void {
  new Gauge({
    name: 'bullmq_job_count',
    help: 'Jobs per BullMQ queue and state (wait, prioritized, active, delayed, failed, completed, waiting-children)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        const counts = await queue.getJobCounts(...STATES);
        for (const state of STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'bullmq_oldest_waiting_job_age_seconds',
    help: 'Age of the oldest job waiting to be picked up (wait list and prioritized set); 0 when none waits',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        // asc = true: oldest first. One job from each structure BullMQ 6 keeps waiting jobs in.
        const [waiting, prioritized] = await Promise.all([queue.getJobs(['wait'], 0, 0, true), queue.getJobs(['prioritized'], 0, 0, true)]);
        const oldest = Math.min(...[...waiting, ...prioritized].filter(Boolean).map((job) => job.timestamp));
        this.set({ queue: queue.name }, Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0);
      }
    },
  });
}

/** The provider circuit as a number: 0 closed, 1 half-open (one trial call allowed), 2 open (failing fast). */
export const CIRCUIT_STATE = { closed: 0, half_open: 1, open: 2 } as const;
export type CircuitStateName = keyof typeof CIRCUIT_STATE;

export function createCircuitStateGauge(registry: Registry): Gauge<string> {
  const gauge = new Gauge({ name: 'llm_circuit_state', help: 'LLM provider circuit breaker: 0 closed, 1 half-open, 2 open', registers: [registry] });
  gauge.set(CIRCUIT_STATE.closed);
  return gauge;
}
