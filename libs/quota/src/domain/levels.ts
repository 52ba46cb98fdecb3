import type { QuotaLevel } from '@qv/contracts';

/** Thresholds of DESIGN.md §3, as fractions of the limit. */
export const WARNING_RATIO = 0.75;
export const CRITICAL_RATIO = 0.9;

/**
 * ok below 75 %, warning from 75 %, critical from 90 %, exceeded at 100 %. An unlimited quota is
 * always ok; a limit of 0 allows nothing, so it is exceeded even when unused.
 * Compared in integers (used·100 against limit·75) so 74.9 % never rounds up to a warning.
 */
export function levelOf(used: number, limit: number | null): QuotaLevel {
  if (limit === null) return 'ok';
  if (limit <= 0 || used >= limit) return 'exceeded';
  if (used * 10 >= limit * 9) return 'critical';
  if (used * 4 >= limit * 3) return 'warning';
  return 'ok';
}

const ORDER: Record<QuotaLevel, number> = { ok: 0, warning: 1, critical: 2, exceeded: 3 };

/** The most severe of several levels (`ok` for none). */
export function worstLevel(levels: Iterable<QuotaLevel>): QuotaLevel {
  let worst: QuotaLevel = 'ok';
  for (const level of levels) if (ORDER[level] > ORDER[worst]) worst = level;
  return worst;
}
