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

type OverrideInputs = Record<LimitField, string>;

/** A user's overrides as the form's inputs. */
export const overrideInputs = (user: { overrides: Partial<Record<LimitField, number | null>> }): OverrideInputs =>
  Object.fromEntries(LIMIT_FIELDS.map((f) => [f.name, limitInput(user.overrides[f.name])])) as OverrideInputs;

/**
 * What the operator changed since the form was loaded, as one PATCH: the plan if it changed, the
 * limits changed to a value merged in, those emptied removed (the plan's applies again). A limit
 * the operator did not touch is not sent, so another operator's change of it since is kept.
 */
export function userChanges(
  loaded: { plan: string; overrides: OverrideInputs },
  now: { plan: string; overrides: OverrideInputs },
): { plan?: string; mergeOverrides?: Partial<Record<LimitField, number | null>>; removeOverrides?: LimitField[] } {
  const merge: Partial<Record<LimitField, number | null>> = {};
  const remove: LimitField[] = [];
  for (const { name } of LIMIT_FIELDS) {
    if (now.overrides[name].trim() === loaded.overrides[name].trim()) continue;
    const value = parseLimit(now.overrides[name]);
    if (value === undefined) remove.push(name);
    else merge[name] = value;
  }
  return {
    ...(now.plan === loaded.plan ? {} : { plan: now.plan }),
    ...(Object.keys(merge).length ? { mergeOverrides: merge } : {}),
    ...(remove.length ? { removeOverrides: remove } : {}),
  };
}
