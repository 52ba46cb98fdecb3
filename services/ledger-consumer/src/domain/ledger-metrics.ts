import { Counter, type Registry } from '@qv/telemetry';
import type { Logger } from 'pino';

/**
 * The sweeper's report (libs/quota startSweeper logs `{ voided, expired }`) as a counter:
 * `expired` are reservations that reached their TTL unsettled (charged as estimated), `voided`
 * orphans refunded. Returns the logger to hand to startSweeper.
 */
export function sweepMetricsLogger(registry: Registry, logger: Logger): { info: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void } {
  const swept = new Counter({ name: 'quota_reservations_swept_total', help: 'Reservations closed by the sweeper, by outcome (expired: unsettled past their TTL; voided: orphan refunded)', labelNames: ['outcome'], registers: [registry] });
  swept.inc({ outcome: 'expired' }, 0);
  swept.inc({ outcome: 'voided' }, 0);
  return {
    info: (obj, msg) => {
      const { voided, expired } = obj as { voided?: number; expired?: number };
      if (expired) swept.inc({ outcome: 'expired' }, expired);
      if (voided) swept.inc({ outcome: 'voided' }, voided);
      logger.info(obj, msg);
    },
    error: (obj, msg) => logger.error(obj, msg),
  };
}
