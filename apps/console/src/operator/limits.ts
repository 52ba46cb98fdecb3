/** The plan limits an operator edits (DESIGN.md §2); null is unlimited (or no cache for the TTLs). */
export const LIMIT_FIELDS = [
  { name: 'enrichmentsPerDay', label: 'Enrichments / day' },
  { name: 'concurrentJobs', label: 'Concurrent jobs' },
  { name: 'callsPerHour', label: 'AI calls / hour' },
  { name: 'tokensPerDay', label: 'Tokens / day' },
  { name: 'tokensPerMonth', label: 'Tokens / month' },
  { name: 'sessionTtlSeconds', label: 'Session cache TTL (s)' },
  { name: 'contentTtlSeconds', label: 'Content cache TTL (s)' },
] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number]['name'];

/** How a limit reads in an input: a number, or "unlimited". */
export const limitInput = (value: number | null | undefined): string => (value === undefined ? '' : value === null ? 'unlimited' : String(value));

/** An input back to a limit: "" → absent, "unlimited"/"none"/"∞" → null, else a whole number (NaN is left for the API to refuse). */
export function parseLimit(text: string): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === '') return undefined;
  if (t === 'unlimited' || t === 'none' || t === '∞') return null;
  return Number(t.replace(/[,_ ]/g, ''));
}
